//! The Fluent Bit configuration an operator pastes (what `winrm-detect fluent-bit-config`
//! prints and docs/fluent-bit.md quotes): one input of those docs', the prefilter, the `wasm` filter
//! and the output's `match`.
//!
//! The prefilter's rules are the module's own needles as Onigmo patterns
//! ([`winrm_detect::prefilter::fluent_bit`], which holds the argument that they pass everything
//! the module can fire on or report). What holds them depends on what happens to the records
//! no rule matches:
//!
//! - **Annotate**: they go on, unexamined, under their own tag. A `rewrite_tag` filter takes
//!   each record a rule matches out of the stream and emits it again under `winrm_detect.TAG`,
//!   and only that tag reaches the `wasm` filter. So that nothing is lost when the output is
//!   slow, the emitter has no memory limit of its own: Fluent Bit 5.1.1's emitter refuses a
//!   record once its limit is reached, and `rewrite_tag` then keeps that record under its old
//!   tag, past the module. What the emitter holds is bounded by what the input reads, which its
//!   own `mem_buf_limit` bounds.
//! - **Filter**: they are dropped, as the module would drop them. A `grep` filter
//!   (`logical_op: or`) keeps the records one rule matches, and the `wasm` filter reads those
//!   under their own tag, in order. `rewrite_tag` would do the same work and more: it copies
//!   every record it does not re-emit into a new chunk, which cost a tenth of the prefilter
//!   (callgrind, docs/benchmarks.md), and re-emits through an emitter that can refuse.

use std::fmt::Write as _;

use winrm_detect::prefilter::fluent_bit::{Patterns, patterns};
use winrm_detect::{Config, Mode};

/// The inputs docs/fluent-bit.md and docs/windows.md give a configuration for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Input {
    /// `winevtlog` on Windows (prefiltered: the event as XML under `System`).
    Winevtlog,
    /// `tail` over files of JSON lines (evtx_dump, Winlogbeat, NXLog files).
    TailJson,
    /// `tail` over files of event XML, one event per line.
    TailXml,
    /// `tcp` with one event XML per line.
    TcpXml,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Behaviour {
    /// Every record out, matches annotated.
    Annotate,
    /// Only what fired (and what could not be read).
    Filter,
}

/// Everything the printed configuration depends on.
pub struct Options<'a> {
    pub input: Input,
    pub behaviour: Behaviour,
    /// The configuration built into the module: its mode, rules and limits decide the
    /// patterns.
    pub config: &'a Config,
    /// Whether the function name fixes the mode (`winrm_detect_filter_extended`), or the
    /// module takes it from its configuration.
    pub fixed_mode: Option<Mode>,
    /// The module as Fluent Bit will find it.
    pub wasm_path: &'a str,
    /// Where `tail` reads (a glob), or the `tcp` port.
    pub path: Option<&'a str>,
    pub port: u16,
    pub prefilter: bool,
}

/// The tag every input is given, and the tag the prefilter gives its candidates.
const TAG: &str = "winevt";
const CANDIDATES: &str = "winrm_detect.winevt";

/// The interpreter stack every `wasm` filter gets (see the worst cases in docs/fluent-bit.md).
pub const STACK_SIZE: &str = "384K";

/// Whether a prefilter before a module at `wasm_path` running in `mode` costs less than the
/// module on every record. Interpreted (`.wasm`, and Fluent Bit on Windows, which has no
/// `flb-wamrc`), always: the module costs ten times what the prefilter does. Compiled ahead of
/// time (`.aot`), only in parity mode: the module on every record then costs little more than
/// the conversion to JSON any wasm filter pays, and extended mode's needles (`powershell`,
/// `pwsh`) stand in so many records (7.6 % of the corpus) that the prefilter's searches, plus
/// the module on what it passes, cost more than the module alone (docs/benchmarks.md).
pub fn prefilter_pays(mode: Mode, wasm_path: &str) -> bool {
    mode == Mode::Parity || !wasm_path.to_ascii_lowercase().ends_with(".aot")
}

/// The configuration, as YAML.
pub fn yaml(o: &Options) -> String {
    let mode = o.fixed_mode.unwrap_or(o.config.mode);
    let config = Config { mode, ..o.config.clone() };
    let mut y = String::new();
    if o.input == Input::TailJson {
        y.push_str("parsers:\n  - name: json\n    format: json\n");
    }
    y.push_str("pipeline:\n  inputs:\n");
    input(&mut y, o);
    y.push_str("  filters:\n");
    let wasm_match = match event_key(o.input).filter(|_| o.prefilter) {
        Some((key, strings)) => {
            let patterns = patterns(&config, 1 + strings.len());
            let rules = rules(key, strings, &patterns);
            match o.behaviour {
                Behaviour::Annotate => {
                    rewrite_tag(&mut y, &rules);
                    CANDIDATES
                }
                Behaviour::Filter => {
                    grep(&mut y, &rules);
                    TAG
                }
            }
        }
        None => TAG,
    };
    let function = match (o.behaviour, o.fixed_mode) {
        (Behaviour::Annotate, None) => "winrm_detect_annotate".to_string(),
        (Behaviour::Filter, None) => "winrm_detect_filter".to_string(),
        (Behaviour::Annotate, Some(m)) => format!("winrm_detect_annotate_{}", m.as_str()),
        (Behaviour::Filter, Some(m)) => format!("winrm_detect_filter_{}", m.as_str()),
    };
    let _ = writeln!(y, "    - name: wasm\n      match: {wasm_match}");
    if o.input == Input::Winevtlog {
        y.push_str("      event_format: json\n");
    }
    let _ = writeln!(
        y,
        "      wasm_path: {}\n      function_name: {function}\n      wasm_stack_size: {STACK_SIZE}",
        o.wasm_path
    );
    y.push_str("  outputs:\n    - name: stdout\n");
    if wasm_match == CANDIDATES {
        let _ = writeln!(y, "      match_regex: ^({})$", either_tag());
    } else {
        y.push_str("      match: '*'\n");
    }
    y.push_str("      format: json_lines\n");
    y
}

/// `winevt` or its candidates' tag, as a regular expression.
fn either_tag() -> String {
    format!("{}|{}", TAG, CANDIDATES.replace('.', r"\."))
}

/// The key holding the event, and the record's other strings the too-large pattern reads;
/// `None` where a record's event is not one string: `tail` parses each JSON line into a
/// record of many keys, and a `rewrite_tag` rule reads one string. (Reading the line first and
/// parsing it after the prefilter takes Fluent Bit's `parser` filter, which the Fluent Bit
/// the tests run is not built with: unproven, so not printed.)
pub fn event_key(input: Input) -> Option<(&'static str, &'static [&'static str])> {
    match input {
        Input::Winevtlog => Some(("System", &["Message"])),
        Input::TailXml | Input::TcpXml => Some(("log", &[])),
        Input::TailJson => None,
    }
}

fn input(y: &mut String, o: &Options) {
    match o.input {
        Input::Winevtlog => {
            y.push_str("    - name: winevtlog\n");
            y.push_str(
                "      channels: Microsoft-Windows-Sysmon/Operational,Security,Microsoft-Windows-PowerShell/Operational\n",
            );
            y.push_str("      interval_sec: 1\n");
            if o.prefilter {
                // The whole event in one string, which a rewrite_tag rule can read.
                y.push_str("      render_event_as_xml: true\n      string_inserts: false\n");
            }
        }
        Input::TailJson | Input::TailXml => {
            let default =
                if o.input == Input::TailJson { "/var/log/windows/*.jsonl" } else { "/var/log/windows/*.xml" };
            let _ = writeln!(y, "    - name: tail\n      path: {}", o.path.unwrap_or(default));
            if o.input == Input::TailJson {
                y.push_str("      parser: json\n");
            }
            y.push_str("      buffer_max_size: 2M\n");
        }
        Input::TcpXml => {
            let _ = writeln!(
                y,
                "    - name: tcp\n      listen: 0.0.0.0\n      port: {}\n      format: none\n      buffer_size: 2M",
                o.port
            );
        }
    }
    let _ = writeln!(y, "      tag: {TAG}");
}

/// The prefilter's rules, as (key, pattern): each pattern of the event's key, and the
/// too-large pattern over every string.
fn rules<'a>(key: &'a str, others: &'a [&'a str], patterns: &'a Patterns) -> Vec<(&'a str, &'a str)> {
    let content = patterns.content.iter().map(|p| (key, p.as_str()));
    let lengths = std::iter::once(key).chain(others.iter().copied()).map(|k| (k, patterns.too_large.as_str()));
    let rules: Vec<_> = content.chain(lengths).collect();
    // Single-quoted YAML keeps every backslash; `rewrite_tag` splits a rule on spaces, and no
    // pattern holds one.
    debug_assert!(rules.iter().all(|(_, p)| !p.contains([' ', '\''])));
    rules
}

/// Annotate mode's prefilter: candidates emitted again under `winrm_detect.TAG`.
fn rewrite_tag(y: &mut String, rules: &[(&str, &str)]) {
    let _ = writeln!(y, "    - name: rewrite_tag\n      match: {TAG}\n      rule:");
    for (key, pattern) in rules {
        let _ = writeln!(y, "        - '${key} {pattern} winrm_detect.$TAG false'");
    }
    y.push_str("      emitter_name: winrm_detect_candidates\n");
    y.push_str("      emitter_mem_buf_limit: 0\n");
}

/// Filter mode's prefilter: candidates kept, the rest dropped.
fn grep(y: &mut String, rules: &[(&str, &str)]) {
    let _ = writeln!(y, "    - name: grep\n      match: {TAG}\n      logical_op: or\n      regex:");
    for (key, pattern) in rules {
        let _ = writeln!(y, "        - '{key} {pattern}'");
    }
}
