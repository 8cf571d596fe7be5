//! What a match says: the Splunk result row (CIM fields with the data model's defaults), the
//! rule's risk and ATT&CK metadata, the evidence, and the remote targets the command names.
//! The JSON rendering here is the runner's documented output contract.

use serde::Serialize;
use serde::ser::SerializeMap;

use crate::config::{Config, Mode};
use crate::event::{ProcessFields, SCRIPT_BLOCK_EVENT_ID, ScriptBlock, basename};
use crate::rules::{self, Matcher, MessageFields, Rule};

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct RemoteTarget {
    pub host: String,
    pub loopback: bool,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Evidence {
    pub kind: String,
    pub text: String,
    pub layer: String,
    pub offset: u32,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Annotation {
    /// Which of the detector's rules fired.
    pub rule: Rule,
    pub rule_id: String,
    pub rule_name: String,
    pub rule_version: u32,
    pub matcher: Matcher,
    pub macro_profile: String,
    pub mitre_technique_ids: Vec<String>,
    pub mitre_tactics: Vec<String>,
    pub kill_chain_phases: Vec<String>,
    pub risk_object: String,
    pub risk_object_type: String,
    pub risk_score: u32,
    pub message: String,
    #[serde(serialize_with = "fields_as_object")]
    pub fields: Vec<(String, Option<String>)>,
    pub remote_targets: Vec<RemoteTarget>,
    pub evidence: Vec<Evidence>,
    pub techniques: Vec<String>,
}

fn fields_as_object<S: serde::Serializer>(fields: &[(String, Option<String>)], s: S) -> Result<S::Ok, S::Error> {
    let mut map = s.serialize_map(Some(fields.len()))?;
    for (k, v) in fields {
        map.serialize_entry(k, v)?;
    }
    map.end()
}

/// Every one of a search's `*term*` wildcards (lower-cased) in `text`, as evidence of `layer`
/// where each first stands, or `None` when one is missing.
pub fn terms_in<const N: usize>(text: &str, terms: &[&str; N], layer: &str) -> Option<Vec<Evidence>> {
    terms
        .iter()
        .zip(rules::term_offsets(text, terms))
        .map(|(term, at)| Some(text_evidence(term, text, at?, term.len(), layer)))
        .collect()
}

/// `len` bytes of `text` at `at`, found in `layer`, as evidence of `kind`.
pub fn text_evidence(kind: &str, text: &str, at: usize, len: usize, layer: &str) -> Evidence {
    Evidence {
        kind: kind.into(),
        text: text[at..at + len].into(),
        layer: layer.into(),
        offset: u32::try_from(at).unwrap_or(u32::MAX),
    }
}

impl Annotation {
    pub fn field(&self, name: &str) -> Option<&str> {
        self.fields.iter().find(|(k, _)| k == name).and_then(|(_, v)| v.as_deref())
    }
}

/// The CIM row after the data model's calculated fields: `unknown` for missing `dest`,
/// `user`, `process`, `original_file_name`, `parent_process`; names fall back to the first
/// token of the command line (see [`first_token_fallback`]).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CimRow {
    pub fields: ProcessFields,
    pub dest: String,
    pub user: String,
    pub process: String,
    pub process_name: String,
    pub original_file_name: String,
    pub parent_process: String,
    pub parent_process_name: String,
}

const UNKNOWN: &str = "unknown";

impl CimRow {
    pub fn new(fields: ProcessFields) -> CimRow {
        let or_unknown = |v: &Option<String>| v.clone().unwrap_or_else(|| UNKNOWN.to_string());
        let name = |name: &Option<String>, command: &Option<String>| {
            name.clone()
                .or_else(|| command.as_deref().and_then(first_token_fallback))
                .unwrap_or_else(|| UNKNOWN.to_string())
        };
        CimRow {
            dest: or_unknown(&fields.dest),
            user: or_unknown(&fields.user),
            process: or_unknown(&fields.process),
            process_name: name(&fields.process_name, &fields.process),
            original_file_name: or_unknown(&fields.original_file_name),
            parent_process: or_unknown(&fields.parent_process),
            parent_process_name: name(&fields.parent_process_name, &fields.parent_process),
            fields,
        }
    }

    /// The result row of version 12 (and the fields version 1 reported), in a fixed order.
    pub fn result_fields(&self) -> Vec<(String, Option<String>)> {
        let f = &self.fields;
        let exec = |p: &Option<String>| p.as_deref().map(|p| basename(p).to_string());
        let known = |s: &str| Some(s.to_string());
        [
            ("_time", f.time.clone()),
            ("dest", known(&self.dest)),
            ("user", known(&self.user)),
            ("parent_process_name", known(&self.parent_process_name)),
            ("process_name", known(&self.process_name)),
            ("process", known(&self.process)),
            ("process_id", f.process_id.clone()),
            ("parent_process_id", f.parent_process_id.clone()),
            ("action", f.action.clone()),
            ("original_file_name", known(&self.original_file_name)),
            ("parent_process", known(&self.parent_process)),
            ("parent_process_exec", exec(&f.parent_process_path)),
            ("parent_process_guid", f.parent_process_guid.clone()),
            ("parent_process_path", f.parent_process_path.clone()),
            ("process_exec", exec(&f.process_path)),
            ("process_guid", f.process_guid.clone()),
            ("process_hash", f.process_hash.clone()),
            ("process_integrity_level", f.process_integrity_level.clone()),
            ("process_path", f.process_path.clone()),
            ("user_id", f.user_id.clone()),
            ("vendor_product", f.vendor_product.clone()),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v))
        .collect()
    }
}

/// The data model's `replace(process, "^\s*([^\s]+).*", "\1")`, to the letter: PCRE's `.`
/// stops at a line feed, so whatever follows the first line feed after the token survives.
pub fn first_token_fallback(command: &str) -> Option<String> {
    let is_space = |c: char| matches!(c, ' ' | '\t' | '\n' | '\r' | '\x0b' | '\x0c');
    let rest = command.trim_start_matches(is_space);
    if rest.is_empty() {
        return None;
    }
    let token_end = rest.find(is_space).unwrap_or(rest.len());
    let mut out = rest[..token_end].to_string();
    if let Some(lf) = rest[token_end..].find('\n') {
        out.push_str(&rest[token_end + lf..]);
    }
    Some(out)
}

/// Everything of an annotation but what the matcher found.
pub struct Found {
    pub matcher: Matcher,
    pub remote_targets: Vec<RemoteTarget>,
    pub evidence: Vec<Evidence>,
    pub techniques: Vec<String>,
    /// The text read where it is not the event's own: a script block's parts joined, which
    /// the annotation then carries as the script.
    pub joined_text: Option<String>,
}

/// An annotation of `rule`, one of those that read process creations, on `row`.
pub fn build(config: &Config, rule: Rule, row: &CimRow, found: Found) -> Annotation {
    let names = MessageFields {
        dest: &row.dest,
        parent_process_name: &row.parent_process_name,
        process_name: &row.process_name,
    };
    assemble(config, rule, &names, row.result_fields(), found)
}

/// An annotation of `rule` against `names.dest`: everything but the row is the rule's own
/// (see [`rules`]).
fn assemble(
    config: &Config,
    rule: Rule,
    names: &MessageFields<'_>,
    fields: Vec<(String, Option<String>)>,
    found: Found,
) -> Annotation {
    debug_assert!(found.matcher == Matcher::Parity || config.mode == Mode::Extended);
    let identity = rules::identity(rule, found.matcher, config.rule_version);
    let strings = |list: &[&str]| list.iter().map(|s| s.to_string()).collect();
    let (tactic, phase) = rules::tactic_and_phase(rule);
    Annotation {
        rule,
        rule_id: identity.id.into(),
        rule_name: identity.name.into(),
        rule_version: identity.version,
        matcher: found.matcher,
        macro_profile: config.macro_profile.as_str().into(),
        mitre_technique_ids: strings(rules::mitre_technique_ids(rule, config.rule_version)),
        mitre_tactics: strings(&[tactic]),
        kill_chain_phases: strings(&[phase]),
        risk_object: names.dest.to_string(),
        risk_object_type: "system".into(),
        risk_score: config.risk_score_of(rule),
        message: rules::message(rule, names),
        fields,
        remote_targets: found.remote_targets,
        evidence: found.evidence,
        techniques: found.techniques,
    }
}

/// What a script-block match reports: the `BY` fields of the search (`EventCode
/// ScriptBlockText Computer user_id`), then the rest of the 4104 data, which says where the
/// text stood.
pub struct ScriptBlockRow<'a> {
    pub time: Option<&'a str>,
    pub computer: Option<&'a str>,
    pub user_id: Option<&'a str>,
    pub block: &'a ScriptBlock,
    /// The text the matcher read: the event's own, or all parts of its block joined.
    pub text: &'a str,
}

impl<'a> ScriptBlockRow<'a> {
    /// The row of one 4104 event: its own text, and the time, host and SID of its fields.
    pub fn new(fields: &'a ProcessFields, block: &'a ScriptBlock) -> ScriptBlockRow<'a> {
        ScriptBlockRow {
            time: fields.time.as_deref(),
            computer: fields.dest.as_deref(),
            user_id: fields.user_id.as_deref(),
            block,
            text: &block.text,
        }
    }

    pub fn computer(&self) -> &str {
        self.computer.unwrap_or(UNKNOWN)
    }

    pub fn result_fields(&self) -> Vec<(String, Option<String>)> {
        let owned = |v: Option<&str>| v.map(str::to_string);
        let number = |n: Option<u32>| n.map(|n| n.to_string());
        [
            ("_time", owned(self.time)),
            ("EventCode", Some(SCRIPT_BLOCK_EVENT_ID.to_string())),
            ("ScriptBlockText", Some(self.text.to_string())),
            ("Computer", owned(self.computer)),
            ("user_id", owned(self.user_id)),
            ("ScriptBlockId", self.block.id.clone()),
            ("MessageNumber", number(self.block.message_number)),
            ("MessageTotal", number(self.block.message_total)),
            ("Path", self.block.path.clone()),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v))
        .collect()
    }
}

/// An annotation of `rule`, one of those that read script blocks, on `row`.
pub fn build_script_block(config: &Config, rule: Rule, row: &ScriptBlockRow<'_>, found: Found) -> Annotation {
    let names = MessageFields { dest: row.computer(), parent_process_name: UNKNOWN, process_name: UNKNOWN };
    assemble(config, rule, &names, row.result_fields(), found)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fallback_is_pcre_replace_to_the_letter() {
        assert_eq!(first_token_fallback("  powershell.exe -c x").as_deref(), Some("powershell.exe"));
        assert_eq!(first_token_fallback("\"powershell.exe\" & {x}").as_deref(), Some("\"powershell.exe\""));
        assert_eq!(first_token_fallback("powershell.exe -c x\nmore").as_deref(), Some("powershell.exe\nmore"));
        assert_eq!(first_token_fallback(" \n "), None);
    }

    #[test]
    fn missing_fields_become_unknown() {
        let row = CimRow::new(ProcessFields { process: Some("pwsh.exe -c 1".into()), ..Default::default() });
        assert_eq!(row.dest, "unknown");
        assert_eq!(row.user, "unknown");
        assert_eq!(row.process_name, "pwsh.exe");
        assert_eq!(row.parent_process_name, "unknown");
        assert_eq!(row.original_file_name, "unknown");
    }
}
