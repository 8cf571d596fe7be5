//! The rules the detector carries and every fact about them that more than one place needs:
//! which rules there are, who they are (the ESCU id, name and version; our extended matchers'
//! own), their ATT&CK mapping, risk and message, the `process_powershell` macro's names under
//! each profile, and the parity terms. Everything else imports these from here, and this
//! module imports nothing of the crate. How the WinRM family's four other rules read an event
//! is [`crate::family`].

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
    /// "Remote Process Instantiation via WinRM and Winrs" (`0dd296a2…`): `winrs.exe -r:`, the
    /// source side, in process creations.
    Winrs,
    /// "Interactive Session on Remote Endpoint with PowerShell" (`a4e8f3a4…`):
    /// `Enter-PSSession -ComputerName` in a 4104 script block, the source side.
    InteractiveSession,
    /// "WinRM Spawning a Process" (`a081836a…`): a shell or tool whose parent is
    /// `wsmprovhost.exe`, the target side of PowerShell remoting.
    WinrmSpawningAProcess,
    /// "Windows Remote Management Execute Shell" (`28b80028…`): a shell whose parent is
    /// `winrshost.exe`, the target side of `winrs`.
    WinrmExecuteShell,
}

/// What a rule reads.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Reads {
    ProcessCreations,
    ScriptBlocks,
}

impl Rule {
    pub const ALL: [Rule; 6] = [
        Rule::ProcessCreation,
        Rule::ScriptBlock,
        Rule::Winrs,
        Rule::InteractiveSession,
        Rule::WinrmSpawningAProcess,
        Rule::WinrmExecuteShell,
    ];

    /// The rules that run unless the configuration names others: the source side. The
    /// target-side two fire on every legitimate remote administration (the corpus's lab holds
    /// thousands of such children), so an operator turns them on knowingly, with allowlists.
    pub const DEFAULT: [Rule; 4] = [Rule::ProcessCreation, Rule::ScriptBlock, Rule::Winrs, Rule::InteractiveSession];

    pub const fn as_str(self) -> &'static str {
        match self {
            Rule::ProcessCreation => "process-creation",
            Rule::ScriptBlock => "script-block",
            Rule::Winrs => "winrs",
            Rule::InteractiveSession => "interactive-session",
            Rule::WinrmSpawningAProcess => "winrm-spawning-a-process",
            Rule::WinrmExecuteShell => "winrm-execute-shell",
        }
    }

    pub const fn reads(self) -> Reads {
        match self {
            Rule::ScriptBlock | Rule::InteractiveSession => Reads::ScriptBlocks,
            _ => Reads::ProcessCreations,
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

/// Where each of [`PARITY_TERMS`] first stands in `text`, if it does.
pub fn parity_term_offsets(text: &str) -> [Option<usize>; 2] {
    term_offsets(text, &PARITY_TERMS)
}

/// Where each of a search's lower-cased `*term*` wildcards first stands in `text`, if it does
/// (the text is lower-cased once for all; ASCII lower-casing keeps byte offsets).
pub fn term_offsets<const N: usize>(text: &str, terms: &[&str; N]) -> [Option<usize>; N] {
    let lower = text.to_ascii_lowercase();
    terms.map(|term| memchr::memmem::find(lower.as_bytes(), term.as_bytes()))
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

/// `detections/endpoint/remote_process_instantiation_via_winrm_and_winrs.yml` version 6
/// (2025-02-10; the newest the search tools hold, in a fork of splunk/security_content,
/// Jalexander798/JA_Splunk_Security1@6a53921a): TTP, risk 54 on `dest`.
pub const WINRS: Identity = Identity {
    id: "0dd296a2-4338-11ec-ba02-3e22fbd008af",
    name: "Remote Process Instantiation via WinRM and Winrs",
    version: 6,
};
/// UUIDv5 of `winrm-detect/winrs-extended` in the namespace of the ESCU id.
pub const WINRS_EXTENDED: Identity = Identity {
    id: "5c552193-855d-5204-bb64-f8e6fa5476b4",
    name: "Remote Process Instantiation via WinRM and Winrs (winrm-detect extended: the switches as winrs.exe reads them)",
    version: 1,
};
/// `…/interactive_session_on_remote_endpoint_with_powershell.yml` version 10 (2025-05-02,
/// the same fork @397107f8): TTP, risk 45 on `dest`.
pub const INTERACTIVE_SESSION: Identity = Identity {
    id: "a4e8f3a4-48b2-11ec-bcfc-3e22fbd008af",
    name: "Interactive Session on Remote Endpoint with PowerShell",
    version: 10,
};
/// UUIDv5 of `winrm-detect/interactive-session-extended` in the namespace of the ESCU id.
pub const INTERACTIVE_SESSION_EXTENDED: Identity = Identity {
    id: "2978c7ea-9740-5a4d-b034-ff5c86f634a1",
    name: "Interactive Session on Remote Endpoint with PowerShell (winrm-detect extended: Enter-PSSession as PowerShell binds it)",
    version: 1,
};
/// `…/winrm_spawning_a_process.yml` version 4 (2024-11-13, the same fork @e044e874; the
/// copy in sec-js/security_content@51412308 has the same search and the message `tbd`):
/// TTP, experimental, risk 25 on `dest` and 25 on `user`, T1190 (CVE-2021-31166).
pub const WINRM_SPAWNING_A_PROCESS: Identity =
    Identity { id: "a081836a-ba4d-11eb-8593-acde48001122", name: "WinRM Spawning a Process", version: 4 };
/// `…/windows_remote_management_execute_shell.yml` version 8 (2026-05-13,
/// splunk/security_content@2a60eb06): Anomaly, risk 20 on `dest`.
pub const WINRM_EXECUTE_SHELL: Identity = Identity {
    id: "28b80028-851d-4b8d-88a5-375ba115418a",
    name: "Windows Remote Management Execute Shell",
    version: 8,
};

/// The process-creation rule's published versions we carry (see `reference/escu/`).
pub const PROCESS_CREATION_VERSIONS: [u32; 2] = [1, 12];

/// The identity of `rule` read by `matcher`; `rule_version` is the configured version of the
/// process-creation rule, which the extended matchers and the other rules do not follow. The
/// target side's two compare whole field values, which leaves nothing to read otherwise: they
/// have only their parity reading.
pub fn identity(rule: Rule, matcher: Matcher, rule_version: u32) -> Identity {
    match (rule, matcher) {
        (Rule::Winrs, Matcher::Parity) => WINRS,
        (Rule::Winrs, Matcher::Extended) => WINRS_EXTENDED,
        (Rule::InteractiveSession, Matcher::Parity) => INTERACTIVE_SESSION,
        (Rule::InteractiveSession, Matcher::Extended) => INTERACTIVE_SESSION_EXTENDED,
        (Rule::WinrmSpawningAProcess, _) => WINRM_SPAWNING_A_PROCESS,
        (Rule::WinrmExecuteShell, _) => WINRM_EXECUTE_SHELL,
        (Rule::ProcessCreation, Matcher::Parity) => {
            Identity { id: PROCESS_CREATION_ID, name: PROCESS_CREATION_NAME, version: rule_version }
        }
        (Rule::ProcessCreation, Matcher::Extended) => PROCESS_CREATION_EXTENDED,
        (Rule::ScriptBlock, Matcher::Parity) => SCRIPT_BLOCK,
        (Rule::ScriptBlock, Matcher::Extended) => SCRIPT_BLOCK_EXTENDED,
    }
}

/// The risk score of `rule` unless the configuration sets one: the process-creation rule's
/// versions up to 6 wrote 45, later ones compute 50; the twin's is 45 (see [`SCRIPT_BLOCK`]);
/// the family's, their YAML's score on `dest`.
pub fn risk_score(rule: Rule, rule_version: u32) -> u32 {
    match rule {
        Rule::ProcessCreation if rule_version <= 6 => 45,
        Rule::ProcessCreation => 50,
        Rule::ScriptBlock => 45,
        Rule::Winrs => 54,
        Rule::InteractiveSession => 45,
        Rule::WinrmSpawningAProcess => 25,
        Rule::WinrmExecuteShell => 20,
    }
}

/// ATT&CK technique ids: T1021.006 (Windows Remote Management); version 1 of the
/// process-creation rule and every version of the twin also name its parent, T1021. WinRM
/// Spawning a Process was written for CVE-2021-31166 and names T1190 alone.
pub fn mitre_technique_ids(rule: Rule, rule_version: u32) -> &'static [&'static str] {
    match rule {
        Rule::ProcessCreation if rule_version == 1 => &["T1021", "T1021.006"],
        Rule::ScriptBlock => &["T1021", "T1021.006"],
        Rule::WinrmSpawningAProcess => &["T1190"],
        _ => &["T1021.006"],
    }
}

/// The tactic of T1021 and T1021.006, and the kill-chain phase version 1 wrote for it.
pub const LATERAL_MOVEMENT: &str = "Lateral Movement";
/// The tactic of T1190 (Exploit Public-Facing Application).
pub const INITIAL_ACCESS: &str = "Initial Access";
/// The kill-chain phase of Initial Access (Lockheed Martin's: the exploit is delivered).
pub const DELIVERY: &str = "Delivery";

/// The ATT&CK tactic and the kill-chain phase of `rule`'s techniques.
pub fn tactic_and_phase(rule: Rule) -> (&'static str, &'static str) {
    match rule {
        Rule::WinrmSpawningAProcess => (INITIAL_ACCESS, DELIVERY),
        _ => (LATERAL_MOVEMENT, LATERAL_MOVEMENT),
    }
}

/// The fields a rule's message names.
pub struct MessageFields<'a> {
    pub dest: &'a str,
    pub parent_process_name: &'a str,
    pub process_name: &'a str,
}

/// The message `rule` writes: its YAML's `rba.message` (or, for the execute-shell rule,
/// `intermediate_findings`' message) with the fields put in, spelling and all.
pub fn message(rule: Rule, f: &MessageFields<'_>) -> String {
    let dest = f.dest;
    match rule {
        Rule::ProcessCreation | Rule::ScriptBlock => {
            format!("A process was started on a remote endpoint from {dest} by abusing WinRM using PowerShell.exe")
        }
        Rule::Winrs => format!("A process was started on a remote endpoint from {dest}"),
        Rule::InteractiveSession => format!("An interactive session was opened on a remote endpoint from {dest}"),
        Rule::WinrmSpawningAProcess => format!("winrm.exe spawning a process observed on {dest}"),
        Rule::WinrmExecuteShell => {
            format!("a winrm remote proces [{}] execute [{}] shell on [{dest}].", f.parent_process_name, f.process_name)
        }
    }
}
