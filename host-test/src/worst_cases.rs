//! Generated worst cases for stack use: the deepest and longest inputs the default limits
//! (`limits.*`) let through to each recursive part of the detection, each as a PowerShell
//! process creation or script block that reaches the full path in both modes. The Fluent Bit tests feed them
//! through the real WAMR to show the README's `wasm_stack_size` covers them, and measure
//! what each needs.

use base64::Engine as _;
use serde_json::json;

/// `powershell -EncodedCommand` of a script (base64 of UTF-16LE), as an attacker writes it.
fn encoded(script: &str) -> String {
    let utf16: Vec<u8> = script.encode_utf16().flat_map(u16::to_le_bytes).collect();
    format!("powershell.exe -NoProfile -EncodedCommand {}", base64::engine::general_purpose::STANDARD.encode(utf16))
}

/// A Sysmon process creation in the EVTX JSON shape with this command line.
fn sysmon(command_line: &str) -> serde_json::Value {
    json!({"Event": {
        "System": {"EventID": 1, "Version": 5, "Channel": "Microsoft-Windows-Sysmon/Operational", "Computer": "WS01.corp.example"},
        "EventData": {
            "Image": "C:\\Windows\\System32\\WindowsPowerShell\\v1.0\\powershell.exe",
            "OriginalFileName": "PowerShell.EXE",
            "User": "CORP\\alice",
            "CommandLine": command_line,
        }
    }})
}

/// A PowerShell script-block log (EventID 4104) in the EVTX JSON shape with this text.
fn script_block(text: &str) -> serde_json::Value {
    json!({"Event": {
        "System": {"EventID": 4104, "Channel": "Microsoft-Windows-PowerShell/Operational", "Computer": "WS01.corp.example"},
        "EventData": {"MessageNumber": 1, "MessageTotal": 1, "ScriptBlockText": text, "ScriptBlockId": "{0}"}
    }})
}

/// The remote command every case hides somewhere (both parity terms, so that parity mode
/// parses the event too).
const PAYLOAD: &str = "Invoke-Command -ComputerName FS02 -ScriptBlock { whoami }";

/// `(name, event as one JSON line)` for each worst case, under the default limits:
/// 64 levels of JSON and XML nesting, a 64 KiB command line, script groups far deeper than
/// the analyser follows, four layers of encoded and nested PowerShell (and one more), chains
/// that once recursed once per link, and hosts in hosts that were once read along every path.
pub fn worst_cases() -> Vec<(&'static str, String)> {
    let max_nesting = 64;
    let mut cases = Vec::new();

    // JSON: the event object, Event, EventData, then arrays down to the limit exactly.
    let mut deep = sysmon(&format!("powershell.exe -c \"{PAYLOAD}\""));
    let mut inner = json!("bottom");
    for _ in 0..max_nesting - 3 {
        inner = json!([inner]);
    }
    deep["Event"]["EventData"]["Extra"] = inner;
    // As text (`log`): Fluent Bit 5.1.1 itself aborts on a record nested 64 levels deep,
    // before any filter, so this is how such an event reaches the module there.
    cases.push(("json-nesting-64", json!({ "log": deep.to_string() }).to_string()));
    // The same depth in a shape read through a `serde_json::Value` (EVTX JSON is read without
    // one, and needs less stack): Winlogbeat's, the object, winlog and event_data first.
    let mut inner = json!("bottom");
    for _ in 0..max_nesting - 3 {
        inner = json!([inner]);
    }
    let winlogbeat = json!({"winlog": {
        "event_id": 1, "channel": "Microsoft-Windows-Sysmon/Operational", "computer_name": "WS01.corp.example",
        "event_data": {
            "Image": "C:\\Windows\\System32\\WindowsPowerShell\\v1.0\\powershell.exe",
            "OriginalFileName": "PowerShell.EXE",
            "CommandLine": format!("powershell.exe -c \"{PAYLOAD}\""),
            "Extra": inner,
        }
    }});
    cases.push(("json-nesting-64-value", json!({ "log": winlogbeat.to_string() }).to_string()));

    // XML: Event, EventData, then elements down to the limit, carried as text (`log`).
    let depth = max_nesting - 2;
    let xml = format!(
        "<Event xmlns='http://schemas.microsoft.com/win/2004/08/events/event'><System><Provider Name='Microsoft-Windows-Sysmon'/><EventID>1</EventID><Version>5</Version><Channel>Microsoft-Windows-Sysmon/Operational</Channel><Computer>WS01.corp.example</Computer></System><EventData><Data Name='Image'>C:\\Windows\\System32\\WindowsPowerShell\\v1.0\\powershell.exe</Data><Data Name='CommandLine'>powershell.exe -c &quot;{PAYLOAD}&quot;</Data>{}{}</EventData></Event>",
        "<x>".repeat(depth - 1),
        "</x>".repeat(depth - 1)
    );
    cases.push(("xml-nesting-64", json!({ "log": xml }).to_string()));

    // The longest command line the analyser reads (64 KiB), full of commands.
    let statement = format!("{PAYLOAD}; ");
    let long = format!("powershell.exe -c \"{}\"", statement.repeat((64 << 10) / statement.len()));
    cases.push(("command-line-64k", sysmon(&long).to_string()));

    // Script blocks and parentheses nested far past the analyser's 64 levels.
    let blocks = format!("powershell.exe -c \"{}{PAYLOAD}{}\"", "& { ".repeat(300), " }".repeat(300));
    cases.push(("script-blocks-300", sysmon(&blocks).to_string()));
    let parens = format!("powershell.exe -c \"{}{PAYLOAD}{}\"", "(".repeat(2000), ")".repeat(2000));
    cases.push(("parentheses-2000", sysmon(&parens).to_string()));

    // Encoded commands inside encoded commands, one layer past `max_decode_depth` (4), and
    // groups in every layer: the deepest the limits allow, combined.
    let mut script = PAYLOAD.to_string();
    for _ in 0..5 {
        script = format!("& {{ ({{ {} }}) }}", encoded(&script));
    }
    // The payload also stands on top, where parity sees it: the layers below the limit are
    // decoded all the same.
    let top = |hidden: &str| format!("powershell.exe -c \"{PAYLOAD}; {hidden}\"");
    cases.push(("encoded-5-layers", sysmon(&top(&encoded(&script))).to_string()));
    let mut layered = PAYLOAD.to_string();
    for _ in 0..4 {
        layered = format!("{}{}{}", "& { ".repeat(16), encoded(&layered), " }".repeat(16));
    }
    cases.push(("encoded-4-layers-64-groups", sysmon(&format!("powershell.exe -c \"{layered}\"")).to_string()));

    // `powershell -c powershell -c …` and `$a = $a = …`: each link was once a recursion.
    let hosts = format!("{}icm -cn FS02 {{ 1 }}", "powershell -c ".repeat(3000));
    cases.push(("nested-hosts-3000", sysmon(&top(&hosts)).to_string()));
    // `{powershell -c {powershell -c …`: each host's command line holds every host after it,
    // and without the reading budget each was read along every path down to the decoding
    // limit (the cmdline fuzz target's finding: 40 links took 56 s). 4,000 fill the line.
    let branching = "{powershell -c ".repeat(4000);
    cases.push(("nested-host-groups-4000", sysmon(&top(&branching)).to_string()));
    let chain = format!(
        "powershell.exe -c \"{}New-PSSession FS02; Invoke-Command -Session $a {{ 1 }}\"",
        "$a = ".repeat(10_000)
    );
    cases.push(("assignment-chain-10000", sysmon(&chain).to_string()));

    // Script-block logging (EventID 4104): the same nesting in a script's text, and the
    // largest script an event can carry, read whole (`max_script_block_bytes` is 1 MiB).
    let nested = format!("{}{}{PAYLOAD}{}{}", "& { ".repeat(300), "(".repeat(2000), ")".repeat(2000), " }".repeat(300));
    cases.push(("script-block-groups", script_block(&nested).to_string()));
    // Expandable strings nested in their subexpressions, far past the analyser's depth, and
    // a script-sized string read again level after level (a budget bounds the re-reading).
    let mut strings = PAYLOAD.to_string();
    for _ in 0..300 {
        strings = format!("\"$({strings})\"");
    }
    cases.push(("script-block-strings-300", script_block(&format!("{PAYLOAD}; {strings}")).to_string()));
    let mut wide = format!("icm -cn FS02 {{ 1 }}; {}", "x".repeat((1 << 20) - 4096));
    for _ in 0..8 {
        wide = format!("\"$({wide})\"");
    }
    cases.push(("script-block-string-1mib", script_block(&format!("{PAYLOAD}; {wide}")).to_string()));
    let statements = format!("icm -cn FS02 {{ whoami }}; {PAYLOAD}; ");
    let script = statements.repeat(((1 << 20) - 2048) / statements.len());
    cases.push(("script-block-1mib", script_block(&script).to_string()));

    // Every kind of group the grammar recurses through, nested in one another far past the
    // parser's 64 levels: a script block run with `&`, an assignment's value, a hashtable's
    // value, a parenthesised pipeline, a method's arguments, an attribute's arguments, a
    // script block, an `if` header, a string's subexpression and an index. Each unit opens
    // ten groups; none is closed.
    let unit = "& { $a = @{ k = ($x.M([A({ if (\"$( $b[";
    let groups = format!("{PAYLOAD}; {}", unit.repeat(200));
    cases.push(("grammar-groups-mixed", script_block(&groups).to_string()));
    cases.push(("grammar-groups-mixed-encoded", sysmon(&top(&encoded(&groups))).to_string()));
    // Chains the grammar repeats, each once a recursion per link in a grammar's usual
    // reading: unary operators and casts, member accesses, ternaries.
    let chains = format!(
        "{PAYLOAD}; {}$x{}; {}1",
        "-not ![int],".repeat(5_000),
        ".M(1).P[0]".repeat(5_000),
        "$a ? 1 : ".repeat(5_000)
    );
    cases.push(("grammar-chains", script_block(&chains).to_string()));

    // The largest event accepted (just under `max_event_bytes`, 1 MiB).
    let mut large = sysmon(&format!("powershell.exe -c \"{PAYLOAD}\""));
    large["Event"]["EventData"]["Padding"] = json!("x".repeat((1 << 20) - 1024));
    cases.push(("event-1mib", large.to_string()));
    cases
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every case is within the default limits and reaches the rule: each fires natively.
    #[test]
    fn every_case_is_read_and_fires_in_extended_mode() {
        let detector = winrm_detect::Detector::from_json(r#"{"mode":"extended"}"#).unwrap();
        for (name, event) in worst_cases() {
            assert!(event.len() <= 1 << 20, "{name} is over max_event_bytes");
            let found = detector.scan(event.as_bytes()).unwrap_or_else(|e| panic!("{name}: {e:?}"));
            assert!(!found.is_empty(), "{name} does not fire");
        }
    }
}
