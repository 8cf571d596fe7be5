//! The rules the detector carries and every fact about them that more than one place needs:
//! which rules there are, who they are (the ESCU id, name and version; our extended matchers'
//! own), their ATT&CK mapping and risk, the `process_powershell` macro's names under each
//! profile, and the parity terms. Everything else imports these from here, and this module
//! imports nothing of the crate.

use serde::{Deserialize, Serialize};

/// The Splunk analytics the detector carries.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Deserialize, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Rule {
    /// "Remote Process Instantiation via WinRM and PowerShell" (`ba24cda8…`): process
    /// creations (Sysmon 1, Security 4688, ECS, OCSF, CIM).
    ProcessCreation,
    /// "Remote Process Instantiation via WinRM and PowerShell Script Block" (`7d4c618e…`):
    /// PowerShell script-block logging, EventID 4104.
    ScriptBlock,
}

impl Rule {
    pub const ALL: [Rule; 2] = [Rule::ProcessCreation, Rule::ScriptBlock];

    pub const fn as_str(self) -> &'static str {
        match self {
            Rule::ProcessCreation => "process-creation",
            Rule::ScriptBlock => "script-block",
        }
    }
}

/// Which reading of a rule fired: the Splunk search's own, or ours of what PowerShell runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Matcher {
    Parity,
    Extended,
}

impl Matcher {
    pub const fn as_str(self) -> &'static str {
        match self {
            Matcher::Parity => "parity",
            Matcher::Extended => "extended",
        }
    }
}

/// Which `process_powershell` macro is applied.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize)]
pub enum MacroProfile {
    /// The macro as of 2026-05-13: powershell.exe, pwsh.exe, powershell_ise.exe.
    #[default]
    #[serde(rename = "escu-2026")]
    Escu2026,
    /// The macro of 2021-2024, which also named sqlps.exe and sqltoolsps.exe.
    #[serde(rename = "escu-2021")]
    Escu2021,
}

impl MacroProfile {
    pub const fn as_str(self) -> &'static str {
        match self {
            MacroProfile::Escu2026 => "escu-2026",
            MacroProfile::Escu2021 => "escu-2021",
        }
    }

    /// The process names the macro accepts.
    pub fn process_names(self) -> &'static [&'static str] {
        match self {
            MacroProfile::Escu2026 => &PROCESS_NAMES_2026,
            MacroProfile::Escu2021 => &PROCESS_NAMES_2021,
        }
    }
}

const PROCESS_NAMES_2026: [&str; 3] = ["powershell.exe", "pwsh.exe", "powershell_ise.exe"];
const PROCESS_NAMES_2021: [&str; 5] =
    ["powershell.exe", "pwsh.exe", "powershell_ise.exe", "sqlps.exe", "sqltoolsps.exe"];
/// The macro's `original_file_name` values (the PE header's, which a rename keeps).
pub const ORIGINAL_FILE_NAMES: [&str; 3] = ["PowerShell.EXE", "pwsh.dll", "powershell_ise.EXE"];

/// The `process_powershell` macro: whole-value equality without case, no wildcards.
pub fn is_powershell(process_name: &str, original_file_name: &str, profile: MacroProfile) -> bool {
    profile.process_names().iter().any(|n| n.eq_ignore_ascii_case(process_name))
        || ORIGINAL_FILE_NAMES.iter().any(|n| n.eq_ignore_ascii_case(original_file_name))
}

/// The Splunk search's two terms, `Processes.process="*Invoke-Command*" AND
/// Processes.process="*-ComputerName*"` (the twin's `ScriptBlockText` the same), as the
/// search spells them.
pub const PARITY_TERMS_SPELLED: [&str; 2] = ["Invoke-Command", "-ComputerName"];

/// [`PARITY_TERMS_SPELLED`] lower-cased: Splunk compares `*term*` wildcards without ASCII case.
pub const PARITY_TERMS: [&str; 2] = ["invoke-command", "-computername"];

/// Where each of [`PARITY_TERMS`] first stands in `text`, if it does (the text is lower-cased
/// once for both; ASCII lower-casing keeps byte offsets).
pub fn parity_term_offsets(text: &str) -> [Option<usize>; 2] {
    let lower = text.to_ascii_lowercase();
    PARITY_TERMS.map(|term| memchr::memmem::find(lower.as_bytes(), term.as_bytes()))
}

/// Who fired: the id, name and version an annotation carries.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Identity {
    pub id: &'static str,
    pub name: &'static str,
    pub version: u32,
}

pub const PROCESS_CREATION_ID: &str = "ba24cda8-4716-11ec-8009-3e22fbd008af";
pub const PROCESS_CREATION_NAME: &str = "Remote Process Instantiation via WinRM and PowerShell";
/// The extended matcher's own identity, so that SIEM counts of the Splunk rule stay
/// comparable: UUIDv5 of the name `winrm-detect/extended` in the namespace of the ESCU id.
pub const PROCESS_CREATION_EXTENDED: Identity = Identity {
    id: "bd89c675-4f02-5c20-b28e-f4ec9dfdc707",
    name: "Remote Process Instantiation via WinRM and PowerShell (winrm-detect extended: aliases, prefixes, encoded commands)",
    version: 1,
};

/// The script-block twin, from splunk/security_content
/// `detections/endpoint/remote_process_instantiation_via_winrm_and_powershell_script_block.yml`
/// version 4 (2024-09-30): confidence 50, impact 90, so a risk score of 45 (version 2 of
/// 2022-03-22, the same search, wrote `risk_score: 45`); observable `Computer`, an endpoint.
pub const SCRIPT_BLOCK: Identity = Identity {
    id: "7d4c618e-4716-11ec-951c-3e22fbd008af",
    name: "Remote Process Instantiation via WinRM and PowerShell Script Block",
    version: 4,
};
/// UUIDv5 of `winrm-detect/script-block-extended` in the namespace of the ESCU id.
pub const SCRIPT_BLOCK_EXTENDED: Identity = Identity {
    id: "e9faac01-cec4-5f84-9219-77000ecdeee6",
    name: "Remote Process Instantiation via WinRM and PowerShell Script Block (winrm-detect extended: the script as PowerShell reads it, parts joined)",
    version: 1,
};

/// The process-creation rule's published versions we carry (see `reference/escu/`).
pub const PROCESS_CREATION_VERSIONS: [u32; 2] = [1, 12];

/// The identity of `rule` read by `matcher`; `rule_version` is the configured version of the
/// process-creation rule, which the extended matchers and the twin do not follow.
pub fn identity(rule: Rule, matcher: Matcher, rule_version: u32) -> Identity {
    match (rule, matcher) {
        (Rule::ProcessCreation, Matcher::Parity) => {
            Identity { id: PROCESS_CREATION_ID, name: PROCESS_CREATION_NAME, version: rule_version }
        }
        (Rule::ProcessCreation, Matcher::Extended) => PROCESS_CREATION_EXTENDED,
        (Rule::ScriptBlock, Matcher::Parity) => SCRIPT_BLOCK,
        (Rule::ScriptBlock, Matcher::Extended) => SCRIPT_BLOCK_EXTENDED,
    }
}

/// The risk score of `rule` unless the configuration sets one: the process-creation rule's
/// versions up to 6 wrote 45, later ones compute 50; the twin's is 45 (see [`SCRIPT_BLOCK`]).
pub fn risk_score(rule: Rule, rule_version: u32) -> u32 {
    match rule {
        Rule::ProcessCreation if rule_version <= 6 => 45,
        Rule::ProcessCreation => 50,
        Rule::ScriptBlock => 45,
    }
}

/// ATT&CK technique ids: T1021.006 (Windows Remote Management); version 1 of the
/// process-creation rule and every version of the twin also name its parent, T1021.
pub fn mitre_technique_ids(rule: Rule, rule_version: u32) -> &'static [&'static str] {
    match rule {
        Rule::ProcessCreation if rule_version != 1 => &["T1021.006"],
        _ => &["T1021", "T1021.006"],
    }
}

/// Every rule's tactic and kill-chain phase.
pub const LATERAL_MOVEMENT: &str = "Lateral Movement";

/// The message both rules write, after the risk object.
pub fn message(dest: &str) -> String {
    format!("A process was started on a remote endpoint from {dest} by abusing WinRM using PowerShell.exe")
}
