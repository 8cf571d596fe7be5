//! The detector's configuration: the JSON text a host passes when it creates a detector.
//!
//! It stands in for the Splunk rule's `_filter` macro (allowlists for known administration)
//! and chooses the mode, the `process_powershell` macro profile and the rule version whose
//! risk metadata the annotations carry. A bad key or value is refused with a message that
//! names it (`serde_path_to_error` gives the path); nothing silently falls back.

use serde::Deserialize;

use crate::error::{ErrorKind, ScanError};
use crate::event::Format;
use crate::rules::{self, MacroProfile, Rule};

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Mode {
    /// The Splunk rule to the letter.
    #[default]
    Parity,
    /// Parity, plus what PowerShell would run that the literal rule misses.
    Extended,
}

impl Mode {
    pub const fn as_str(self) -> &'static str {
        match self {
            Mode::Parity => "parity",
            Mode::Extended => "extended",
        }
    }
}

/// The field convention annotations are rendered in (see [`crate::render`]).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Output {
    /// The annotation as the runner documents it.
    #[default]
    Native,
    /// Elastic Common Schema fields.
    Ecs,
    /// An OCSF Detection Finding (class_uid 2004).
    Ocsf,
}

impl Output {
    pub const fn as_str(self) -> &'static str {
        match self {
            Output::Native => "native",
            Output::Ecs => "ecs",
            Output::Ocsf => "ocsf",
        }
    }
}

/// The `_filter` macro: matches on any of these are suppressed (and counted).
#[derive(Clone, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Allowlist {
    /// CIM `user` values, compared without case.
    #[serde(default)]
    pub users: Vec<String>,
    /// CIM `dest` values, compared without case.
    #[serde(default)]
    pub hosts: Vec<String>,
    /// CIM `parent_process_name` values, compared without case.
    #[serde(default)]
    pub parent_process_names: Vec<String>,
    /// Splunk-style wildcard patterns (`*` is any run of characters) over the whole
    /// command line, compared without case, as a `search process="..."` filter would.
    #[serde(default)]
    pub command_line_patterns: Vec<String>,
}

#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// The rules that run; by default [`Rule::DEFAULT`], the source side.
    #[serde(default = "default_rules")]
    pub rules: Vec<Rule>,
    #[serde(default)]
    pub mode: Mode,
    #[serde(default)]
    pub macro_profile: MacroProfile,
    /// Whose risk metadata the annotation carries: 12 (the current rule) or 1 (as first
    /// published, with T1021 beside T1021.006 and a risk score of 45).
    #[serde(default = "default_rule_version")]
    pub rule_version: u32,
    /// Overrides the version's risk score (45 for versions 1-6, 50 for version 12).
    #[serde(default)]
    pub risk_score: Option<u32>,
    /// Forces one event shape instead of recognising it from each event.
    #[serde(default)]
    pub format: Format,
    /// Whether matches whose every remote target is the host itself are reported.
    #[serde(default = "default_true")]
    pub report_loopback: bool,
    #[serde(default)]
    pub allowlist: Allowlist,
    /// Parse every event, even those the fast reject knows cannot match, so that every
    /// malformed event is reported. Off by default: at the edge, speed matters more than
    /// a report about a broken event that could never have matched.
    #[serde(default)]
    pub parse_all: bool,
    #[serde(default)]
    pub limits: Limits,
    /// How annotations are written out: `native`, `ecs` or `ocsf`.
    #[serde(default)]
    pub output: Output,
}

/// Bounds on what one event may cost. An event past a bound gets a `too-large` or
/// `too-deep` error (or, for the command line, is examined only up to the bound).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Limits {
    /// Larger events are refused unread.
    pub max_event_bytes: usize,
    /// JSON objects and arrays, or XML elements, nested deeper than this are refused.
    pub max_nesting: usize,
    /// Bytes of each command line (and of each decoded layer) the analyser reads.
    pub max_command_line_bytes: usize,
    /// `-EncodedCommand` payloads longer than this (in decoded bytes) are not decoded.
    pub max_encoded_bytes: usize,
    /// Levels of PowerShell inside PowerShell that are followed: `-EncodedCommand` payloads
    /// and `powershell …` commands within script text.
    pub max_decode_depth: u32,
    /// Bytes of a script block's text (one 4104 event, or the parts of one block joined)
    /// the analyser reads.
    pub max_script_block_bytes: usize,
    /// Bytes of script text held, over all blocks, while the other parts of multi-part
    /// script blocks are awaited; the oldest block is dropped past it.
    pub max_pending_script_block_bytes: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_event_bytes: 1 << 20,
            max_nesting: 64,
            max_command_line_bytes: 64 << 10,
            max_encoded_bytes: 64 << 10,
            max_decode_depth: 4,
            max_script_block_bytes: 1 << 20,
            max_pending_script_block_bytes: 4 << 20,
        }
    }
}

fn default_rules() -> Vec<Rule> {
    Rule::DEFAULT.to_vec()
}

fn default_rule_version() -> u32 {
    12
}

fn default_true() -> bool {
    true
}

impl Default for Config {
    fn default() -> Self {
        Config {
            mode: Mode::default(),
            macro_profile: MacroProfile::default(),
            rules: default_rules(),
            rule_version: default_rule_version(),
            risk_score: None,
            format: Format::default(),
            report_loopback: true,
            allowlist: Allowlist::default(),
            parse_all: false,
            limits: Limits::default(),
            output: Output::default(),
        }
    }
}

impl Config {
    /// Parses and checks a configuration. Empty text means the defaults.
    pub fn from_json(text: &str) -> Result<Config, ScanError> {
        if text.trim().is_empty() {
            return Ok(Config::default());
        }
        let mut de = serde_json::Deserializer::from_str(text);
        let config: Config = serde_path_to_error::deserialize(&mut de).map_err(|e| {
            let path = e.path().to_string();
            let inner = e.into_inner();
            let message = if path == "." {
                format!("configuration: {inner}")
            } else {
                format!("configuration key `{path}`: {inner}")
            };
            ScanError::new(ErrorKind::BadConfig, message)
        })?;
        de.end().map_err(|e| ScanError::new(ErrorKind::BadConfig, format!("configuration: {e}")))?;
        config.check()?;
        Ok(config)
    }

    /// What a person checks first, in one line: `mode parity, macro_profile escu-2026, …`.
    pub fn summary(&self) -> String {
        format!(
            "mode {}, macro_profile {}, output {}, rules {}",
            self.mode.as_str(),
            self.macro_profile.as_str(),
            self.output.as_str(),
            self.rules.iter().map(|r| r.as_str()).collect::<Vec<_>>().join(","),
        )
    }

    fn check(&self) -> Result<(), ScanError> {
        let bad = |key: &str, why: String| {
            Err(ScanError::new(ErrorKind::BadConfig, format!("configuration key `{key}`: {why}")))
        };
        if self.rules.is_empty() {
            let names: Vec<String> = Rule::ALL.iter().map(|r| format!("`{}`", r.as_str())).collect();
            return bad("rules", format!("no rule would run: name one or more of {}", names.join(", ")));
        }
        if !rules::PROCESS_CREATION_VERSIONS.contains(&self.rule_version) {
            return bad("rule_version", format!("{} is not a published version we carry (1 or 12)", self.rule_version));
        }
        if let Some(score) = self.risk_score
            && score > 100
        {
            return bad("risk_score", format!("{score} is outside 0..=100"));
        }
        let l = &self.limits;
        if !(1..=64 << 20).contains(&l.max_event_bytes) {
            return bad("limits.max_event_bytes", format!("{} is outside 1..=67108864", l.max_event_bytes));
        }
        // serde_json itself stops at 128 levels.
        if !(1..=128).contains(&l.max_nesting) {
            return bad("limits.max_nesting", format!("{} is outside 1..=128", l.max_nesting));
        }
        if l.max_command_line_bytes == 0 || l.max_encoded_bytes == 0 || l.max_script_block_bytes == 0 {
            return bad("limits", "byte limits must be at least 1".into());
        }
        if l.max_decode_depth > 16 {
            return bad("limits.max_decode_depth", format!("{} is above 16", l.max_decode_depth));
        }
        let lists = [
            ("allowlist.users", &self.allowlist.users),
            ("allowlist.hosts", &self.allowlist.hosts),
            ("allowlist.parent_process_names", &self.allowlist.parent_process_names),
            ("allowlist.command_line_patterns", &self.allowlist.command_line_patterns),
        ];
        for (key, list) in lists {
            if let Some(i) = list.iter().position(|v| v.trim().is_empty()) {
                return bad(&format!("{key}[{i}]"), "an empty entry would match nothing or everything".into());
            }
        }
        Ok(())
    }

    /// Whether `rule` runs.
    pub fn runs(&self, rule: Rule) -> bool {
        self.rules.contains(&rule)
    }

    /// The risk score annotations of `rule` carry: the configured one, else the rule's own.
    pub fn risk_score_of(&self, rule: Rule) -> u32 {
        self.risk_score.unwrap_or(rules::risk_score(rule, self.rule_version))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults() {
        let c = Config::from_json("{}").unwrap();
        assert_eq!(c, Config::default());
        assert_eq!(c.risk_score_of(Rule::ProcessCreation), 50);
        assert_eq!(Config::from_json("").unwrap(), Config::default());
    }

    #[test]
    fn unknown_key_is_named() {
        let e = Config::from_json(r#"{"mdoe":"extended"}"#).unwrap_err();
        assert_eq!(e.kind, ErrorKind::BadConfig);
        assert!(e.message.contains("mdoe"), "{}", e.message);
        let e = Config::from_json(r#"{"allowlist":{"user":["x"]}}"#).unwrap_err();
        assert!(e.message.contains("allowlist.user"), "{}", e.message);
    }

    #[test]
    fn bad_value_is_named() {
        let e = Config::from_json(r#"{"mode":"fast"}"#).unwrap_err();
        assert!(e.message.contains("`mode`") && e.message.contains("fast"), "{}", e.message);
        let e = Config::from_json(r#"{"rule_version":7}"#).unwrap_err();
        assert!(e.message.contains("rule_version"), "{}", e.message);
        let e = Config::from_json(r#"{"risk_score":101}"#).unwrap_err();
        assert!(e.message.contains("risk_score"), "{}", e.message);
        let e = Config::from_json(r#"{"allowlist":{"hosts":[""]}}"#).unwrap_err();
        assert!(e.message.contains("allowlist.hosts[0]"), "{}", e.message);
        let e = Config::from_json(r#"{"macro_profile":"escu-2020"}"#).unwrap_err();
        assert!(e.message.contains("macro_profile"), "{}", e.message);
        let e = Config::from_json(r#"{"rules":[]}"#).unwrap_err();
        assert!(e.message.contains("`rules`"), "{}", e.message);
        let e = Config::from_json(r#"{"rules":["script_block"]}"#).unwrap_err();
        assert!(e.message.contains("rules[0]"), "{}", e.message);
        let c = Config::from_json(r#"{"rules":["script-block"]}"#).unwrap();
        assert!(c.runs(Rule::ScriptBlock) && !c.runs(Rule::ProcessCreation));
        let e = Config::from_json(r#"{} x"#).unwrap_err();
        assert_eq!(e.kind, ErrorKind::BadConfig);
    }

    #[test]
    fn version_one_scores_45() {
        let c = Config::from_json(r#"{"rule_version":1}"#).unwrap();
        assert_eq!(c.risk_score_of(Rule::ProcessCreation), 45);
        let c = Config::from_json(r#"{"rule_version":1,"risk_score":70}"#).unwrap();
        assert_eq!(c.risk_score_of(Rule::ProcessCreation), 70);
    }
}
