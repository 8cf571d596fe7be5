//! The `winrm-detect` runner as operators and scripts use it: its output contract, its
//! error lines, its exit status, its counts.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap().to_path_buf()
}

fn run(args: &[&str], stdin: Option<&[u8]>) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_winrm-detect"))
        .args(args)
        .current_dir(root())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut pipe = child.stdin.take().unwrap();
    pipe.write_all(stdin.unwrap_or_default()).unwrap();
    drop(pipe);
    child.wait_with_output().unwrap()
}

fn stdout_json(out: &Output) -> Vec<serde_json::Value> {
    String::from_utf8(out.stdout.clone()).unwrap().lines().map(|l| serde_json::from_str(l).unwrap()).collect()
}

fn last_stderr_line(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).lines().last().unwrap_or_default().to_string()
}

fn bulk(ext: &str) -> Option<String> {
    let p = host_test::corpus_bulk(ext);
    if p.is_file() {
        return Some(p.display().to_string());
    }
    assert!(std::env::var("CI").as_deref() != Ok("true"), "corpus missing under CI");
    None
}

/// A pipe gets JSON lines unless --emit says otherwise; `--emit text` (a terminal's default)
/// gives a person one line per match with the evidence marked where it lies in the command
/// line or script, and where it was found in a decoded layer, then the counts.
#[test]
fn text_is_for_people_and_json_for_pipes() {
    let piped = run(&["scan", "fixtures/events/cim.jsonl"], None);
    assert_eq!(stdout_json(&piped).len(), 3);

    let out =
        run(&["scan", "--emit", "text", "fixtures/events/cim.jsonl", "fixtures/events/scriptblock.ecs.jsonl"], None);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let text = String::from_utf8(out.stdout).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(
        lines[0],
        "fixtures/events/cim.jsonl:1: process-creation parity host=WS01.corp.example user=alice targets=FS02,DC01: \
         powershell.exe -NoProfile -Command \"«Invoke-Command» «-ComputerName» FS02,DC01 -ScriptBlock { whoami }\""
    );
    assert!(lines.iter().any(|l| l.starts_with("fixtures/events/scriptblock.ecs.jsonl:2: script-block parity")
        && l.contains("param([string]$Name)⏎    «Invoke-Command» «-ComputerName» $Name")));
    // The script-block cases include Enter-PSSession's (four fire, one beside the twin).
    assert_eq!(
        &lines[lines.len() - 2..],
        ["per rule: interactive-session=4 process-creation=3 script-block=4", "per matcher: parity=11"]
    );
    assert!(!text.contains('\x1b'), "no colour unless asked for on a pipe");

    let encoded = run(&["scan", "--emit", "text", "--mode", "extended", "fixtures/events/extended.evtx.jsonl"], None);
    let text = String::from_utf8(encoded.stdout).unwrap();
    assert!(
        text.contains("(«Invoke-Command» in process/encoded-command, «-ComputerName» in process/encoded-command) [encoded-command]"),
        "{text}"
    );

    let coloured = run(&["scan", "--emit", "text", "--color", "always", "fixtures/events/cim.jsonl"], None);
    assert!(String::from_utf8(coloured.stdout).unwrap().contains("\x1b[1;31mInvoke-Command\x1b[0m"));
    let benign = br#"{"EventID":1,"Image":"C:\\Windows\\System32\\whoami.exe","CommandLine":"whoami"}"#;
    let none = run(&["scan", "--emit", "text", "-"], Some(benign));
    assert!(none.status.success(), "{}", String::from_utf8_lossy(&none.stderr));
    assert_eq!(String::from_utf8(none.stdout).unwrap(), "no matches\n");
}

#[test]
fn finds_the_real_positive_in_both_bulk_files() {
    let (Some(xml), Some(jsonl)) = (bulk("xml.gz"), bulk("jsonl.gz")) else { return };
    let mut annotations = Vec::new();
    for file in [&xml, &jsonl] {
        let out = run(&["scan", "--mode", "parity", "--emit", "matches", file], None);
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        assert_eq!(last_stderr_line(&out), "events=65145 matched=1 errors=0");
        let lines = stdout_json(&out);
        assert_eq!(lines.len(), 1, "{lines:?}");
        let m = &lines[0];
        assert_eq!(m["source"], file.as_str());
        assert_eq!(m["line"], 5806);
        let a = &m["annotations"][0];
        assert_eq!(a["fields"]["dest"], "Server002");
        assert_eq!(a["fields"]["user"], "admin_test");
        assert_eq!(a["fields"]["process_id"], "4076");
        assert_eq!(a["fields"]["parent_process_name"], "wsmprovhost.exe");
        assert_eq!(a["risk_object"], "Server002");
        assert_eq!(
            a["message"],
            "A process was started on a remote endpoint from Server002 by abusing WinRM using PowerShell.exe"
        );
        assert_eq!(a["matcher"], "parity");
        for key in [
            "rule_id",
            "rule_name",
            "rule_version",
            "matcher",
            "mitre_technique_ids",
            "risk_object",
            "risk_score",
            "message",
            "fields",
            "remote_targets",
            "evidence",
        ] {
            assert!(a.get(key).is_some(), "annotation lacks {key}");
        }
        annotations.push(a.clone());
    }
    assert_eq!(annotations[0], annotations[1], "the XML and JSON twins must give the same annotation");
}

#[test]
fn bad_lines_are_reported_and_scanning_goes_on() {
    let dir = std::env::temp_dir().join(format!("winrm-detect-cli-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let good = std::fs::read(root().join("fixtures/events/sysmon1.xml")).unwrap();
    let good_lines: Vec<&[u8]> = good.split(|&b| b == b'\n').filter(|l| !l.is_empty()).collect();
    let mut mixed = Vec::new();
    mixed.extend_from_slice(good_lines[0]);
    mixed.extend_from_slice(b"\nhello world\n\n{\"broken\":\n\xff\xfe not utf-8\n   \n");
    mixed.extend_from_slice(good_lines[6]);
    mixed.extend_from_slice(b"\n<Event><System><EventID>1</Even\n");
    let file = dir.join("mixed.log");
    std::fs::write(&file, &mixed).unwrap();
    let f = file.display().to_string();

    let out = run(&["scan", "--mode", "extended", &f], None);
    assert!(out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains(&format!("{f}:2: error: unknown-shape")), "{stderr}");
    assert!(stderr.contains(&format!("{f}:4: error: broken-json")), "{stderr}");
    assert!(stderr.contains(&format!("{f}:5: error: invalid-utf8")), "{stderr}");
    assert!(stderr.contains(&format!("{f}:8: error: broken-xml")), "{stderr}");
    assert_eq!(last_stderr_line(&out), "events=6 matched=2 errors=4");
    let lines: Vec<u64> = stdout_json(&out).iter().map(|m| m["line"].as_u64().unwrap()).collect();
    assert_eq!(lines, [1, 7]);

    // A broken event that could never match skips the parser unless parse_all is set.
    let sneaky = dir.join("sneaky.log");
    std::fs::write(&sneaky, b"<Event><System></Event>\n").unwrap();
    let s = sneaky.display().to_string();
    assert_eq!(last_stderr_line(&run(&["scan", &s], None)), "events=1 matched=0 errors=0");
    let strict = dir.join("strict.json");
    std::fs::write(&strict, r#"{"parse_all": true}"#).unwrap();
    let out = run(&["scan", "--config", strict.to_str().unwrap(), &s], None);
    assert_eq!(last_stderr_line(&out), "events=1 matched=0 errors=1");

    // --emit all gives every event back, errors included.
    let out = run(&["scan", "--emit", "all", &f], None);
    let all = stdout_json(&out);
    assert_eq!(all.len(), 6);
    assert!(all[0]["winrm_detect"].as_array().unwrap().len() == 1);
    assert_eq!(all[1]["log"], "hello world");
    assert_eq!(all[1]["winrm_detect_error"]["kind"], "unknown-shape");

    // A file that cannot be read: exit 1, the others still scanned.
    let out = run(&["scan", "/nonexistent/file.log", &f], None);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(last_stderr_line(&out), "events=6 matched=1 errors=4");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn reads_standard_input_and_gzip() {
    let event = std::fs::read(root().join("fixtures/events/sysmon1.evtx.jsonl")).unwrap();
    // The process creation and the script block (EventID 4104) beside it.
    let out = run(&["scan", "-"], Some(&event));
    assert!(out.status.success());
    assert_eq!(last_stderr_line(&out), "events=3 matched=2 errors=0");
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    gz.write_all(&event).unwrap();
    let out = run(&["scan"], Some(&gz.finish().unwrap()));
    assert_eq!(last_stderr_line(&out), "events=3 matched=2 errors=0");
    assert_eq!(stdout_json(&out)[0]["source"], "-");
}

#[test]
fn a_bad_configuration_is_refused_by_name() {
    let dir = std::env::temp_dir().join(format!("winrm-detect-cfg-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let cfg = dir.join("bad.json");
    std::fs::write(&cfg, r#"{"allowlist":{"usres":["svc"]}}"#).unwrap();
    let out = run(&["scan", "--config", cfg.to_str().unwrap(), "fixtures/events/cim.jsonl"], None);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("allowlist.usres"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn summary_is_the_splunk_result_table() {
    let out = run(&["scan", "--emit", "summary", "--summary-format", "json", "fixtures/events/sysmon1.xml"], None);
    let rows = stdout_json(&out);
    assert_eq!(rows.len(), 3, "{rows:?}");
    assert_eq!(rows[0]["count"], 1);
    assert_eq!(rows[0]["firstTime"], "2026-03-02T10:15:30");
    assert_eq!(rows[0]["lastTime"], "2026-03-02T10:15:30");
    let out = run(&["scan", "--emit", "summary", "fixtures/events/sysmon1.xml"], None);
    let table = String::from_utf8_lossy(&out.stdout);
    assert!(table.starts_with("count  firstTime"), "{table}");
    assert!(table.contains("per matcher: parity=3"), "{table}");
}

#[test]
fn the_bundled_fixtures_are_all_there() {
    let names: Vec<&str> = winrm_detect_runner::fixtures::FIXTURES.iter().map(|(n, _)| *n).collect();
    let on_disk = std::fs::read_dir(root().join("fixtures/events")).unwrap().count();
    assert_eq!(names.len(), on_disk);
    assert!(names.iter().all(|n| n.starts_with("fixtures/events/")), "{names:?}");
}

#[test]
fn summary_on_the_corpus_bulk_file_is_splunks_row() {
    let Some(xml) = bulk("xml.gz") else { return };
    let out = run(&["scan", "--mode", "extended", "--emit", "summary", "--summary-format", "json", &xml], None);
    assert!(out.status.success());
    let rows = stdout_json(&out);
    assert_eq!(rows.len(), 1, "{rows:?}");
    let row = &rows[0];
    assert_eq!(row["count"], 1);
    assert_eq!(row["firstTime"], "2024-10-21T11:31:57");
    assert_eq!(row["lastTime"], "2024-10-21T11:31:57");
    assert_eq!(row["dest"], "Server002");
    assert_eq!(row["user"], "admin_test");
    assert_eq!(row["parent_process_name"], "wsmprovhost.exe");
    assert_eq!(row["process_id"], "4076");
    assert_eq!(row["matcher"], "parity");
    let csv = run(&["scan", "--emit", "summary", "--summary-format", "csv", &xml], None);
    let text = String::from_utf8_lossy(&csv.stdout);
    assert!(text.starts_with("count,firstTime,lastTime,rule,rule_id,matcher,action,dest,"), "{text}");
    // One row; its command line holds a line feed, quoted as CSV does.
    let row = text.lines().nth(1).unwrap();
    assert!(
        row.starts_with(
            "1,2024-10-21T11:31:57,2024-10-21T11:31:57,process-creation,ba24cda8-4716-11ec-8009-3e22fbd008af,parity,,Server002,"
        ),
        "{row}"
    );
    assert!(text.contains("\"\"\"powershell.exe\"\" & {Enable-PSRemoting -Force\nInvoke-Command"), "{text}");
}

/// `bench` prints a row per configuration and ratios that are figures, not `inf` or `NaN`
/// (a renamed configuration once left a ratio dividing by zero).
#[test]
fn bench_prints_every_configuration_and_finite_ratios() {
    let out =
        run(&["bench", "--seconds", "0.01", "--memory-events", "1000", "fixtures/events/sysmon1.evtx.jsonl"], None);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let text = String::from_utf8(out.stdout).unwrap();
    for (name, _, _) in winrm_detect_runner::bench::configurations() {
        assert!(text.lines().any(|l| l.starts_with(name)), "no row for {name} in\n{text}");
    }
    let ratios = text.lines().find(|l| l.contains("extended / parity")).expect("a ratio line");
    assert!(!ratios.contains("inf") && !ratios.contains("NaN"), "{ratios}");
    assert!(text.contains("peak linear memory, parity"), "{text}");
}

/// Every Fluent Bit configuration the docs give is what `fluent-bit-config` prints for
/// the command written above it, so the two cannot drift apart; and `--module` takes the
/// needles from the module's own configuration.
#[test]
fn readme_fluent_bit_configurations_are_printed_by_the_runner() {
    let readme = host_test::docs::text();
    for name in ["winevtlog", "tail-json", "tail-xml", "tcp-xml"] {
        let marker = format!("<!-- fluent-bit-config: {name} -->");
        let (before, after) = readme.split_once(&marker).unwrap();
        let command = before.lines().rev().find(|l| !l.trim().is_empty()).unwrap().trim();
        let args: Vec<&str> = command.strip_prefix("winrm-detect ").expect(command).split(' ').collect();
        let block = after.trim_start().strip_prefix("```yaml\n").unwrap();
        let block = &block[..block.find("\n```").unwrap() + 1];
        let out = run(&args, None);
        assert!(out.status.success(), "{command}: {}", last_stderr_line(&out));
        assert_eq!(
            String::from_utf8(out.stdout).unwrap(),
            block,
            "{name}: the docs block is not what `{command}` prints"
        );
    }
    let dir = root().join("target").join("cli-fluent-bit-config");
    std::fs::create_dir_all(&dir).unwrap();
    let module = dir.join("extended.wasm");
    let config = dir.join("extended.json");
    std::fs::write(&config, r#"{"mode":"extended"}"#).unwrap();
    let written =
        run(&["artifact", "fluent-bit", "--config", config.to_str().unwrap(), module.to_str().unwrap()], None);
    assert!(written.status.success());
    let out = run(&["fluent-bit-config", "--input", "tail-xml", "--module", module.to_str().unwrap()], None);
    let yaml = String::from_utf8(out.stdout).unwrap();
    assert!(yaml.contains("- '$log (?i)power[sS]hell winrm_detect.$TAG false'"), "{yaml}");
    assert!(yaml.contains(&format!("wasm_path: {}", module.display())), "{yaml}");
    // Compiled ahead of time, the module alone costs less in extended mode than behind the
    // prefilter (docs/benchmarks.md), and more in parity mode.
    let aot = |mode: &str| {
        run(&["fluent-bit-config", "--input", "tail-xml", "--mode", mode, "--wasm-path", "/etc/fluent-bit/m.aot"], None)
    };
    let extended = aot("extended");
    assert!(!String::from_utf8(extended.stdout).unwrap().contains("rewrite_tag"));
    assert!(String::from_utf8(extended.stderr).unwrap().contains("no prefilter"));
    assert!(String::from_utf8(aot("parity").stdout).unwrap().contains("rewrite_tag"));
    let plain = run(&["fluent-bit-config", "--input", "tail-xml", "--no-prefilter"], None);
    assert!(!String::from_utf8(plain.stdout).unwrap().contains("rewrite_tag"));
}

/// The `--help` texts that state a contract say what the binary does: `--emit all` hands every
/// event back and adds nothing where nothing fired (no empty list), the annotations where
/// something did, the error where the event could not be read; `serve` names the OTLP path
/// and the forward format it speaks.
#[test]
fn help_texts_state_what_the_binary_does() {
    let help = |args: &[&str]| String::from_utf8(run(args, None).stdout).unwrap();
    let scan = help(&["scan", "--help"]);
    let serve = help(&["serve", "--help"]);
    for (name, text) in [("scan", &scan), ("serve", &serve)] {
        assert!(!text.contains("empty list"), "{name} --help promises an empty list:\n{text}");
        assert!(text.contains("winrm_detect_error"), "{name} --help does not say where an error goes:\n{text}");
    }
    assert!(serve.contains("/v1/logs") && serve.contains("otlp"), "{serve}");

    // What `--emit all` does, to the letter of its help: a quiet event as it came, a positive
    // with `winrm_detect`, a broken one with `winrm_detect_error`.
    let quiet = r#"{"EventID":1,"Channel":"Microsoft-Windows-Sysmon/Operational","Image":"C:\\Windows\\System32\\cmd.exe","CommandLine":"cmd /c dir"}"#;
    let positive = std::fs::read_to_string(root().join("fixtures/events/sysmon1.xml")).unwrap();
    let positive = positive.lines().next().unwrap();
    let input = format!("{quiet}\n{positive}\n{{\"broken\":\n");
    let out = run(&["scan", "--emit", "all", "-"], Some(input.as_bytes()));
    let lines: Vec<&str> = std::str::from_utf8(&out.stdout).unwrap().lines().collect();
    assert_eq!(lines.len(), 3, "{lines:?}");
    assert_eq!(lines[0], quiet, "a quiet event gains nothing");
    assert!(lines[1].contains("\"winrm_detect\":[{"), "{}", lines[1]);
    assert!(lines[2].contains("\"winrm_detect_error\":{"), "{}", lines[2]);
}
