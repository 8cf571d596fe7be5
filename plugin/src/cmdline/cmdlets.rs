//! The cmdlets that start remote execution over WinRM (and `Enter-PSSession`, the interactive
//! session of the family's script-block rule), with their real parameter lists
//! (the union of Windows PowerShell 5.1 and PowerShell 7 as documented for
//! `Microsoft.PowerShell.Core`), so that names, aliases and prefixes bind as PowerShell binds
//! them: an exact name or alias wins; otherwise a prefix binds only if every name and alias
//! it starts resolves to one parameter (`-Comp` binds, `-Co` is ambiguous and refused).

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Cmdlet {
    InvokeCommand,
    NewPSSession,
    EnterPSSession,
}

pub struct Parameter {
    pub name: &'static str,
    pub aliases: &'static [&'static str],
    /// A switch takes no value (unless written `-Switch:$value`).
    pub switch: bool,
}

const fn p(name: &'static str, aliases: &'static [&'static str]) -> Parameter {
    Parameter { name, aliases, switch: false }
}

const fn s(name: &'static str, aliases: &'static [&'static str]) -> Parameter {
    Parameter { name, aliases, switch: true }
}

/// PowerShell's common parameters, bound by every cmdlet.
const COMMON: &[Parameter] = &[
    s("Verbose", &["vb"]),
    s("Debug", &["db"]),
    p("ErrorAction", &["ea"]),
    p("WarningAction", &["wa"]),
    p("InformationAction", &["infa"]),
    p("ProgressAction", &["proga"]),
    p("ErrorVariable", &["ev"]),
    p("WarningVariable", &["wv"]),
    p("InformationVariable", &["iv"]),
    p("OutVariable", &["ov"]),
    p("OutBuffer", &["ob"]),
    p("PipelineVariable", &["pv"]),
];

/// What every remoting cmdlet binds (the parameters `PSRemotingBaseCmdlet` and its kin give
/// Invoke-Command, New-PSSession and Enter-PSSession alike).
const REMOTING: &[Parameter] = &[
    s("AllowRedirection", &[]),
    p("ApplicationName", &[]),
    p("Authentication", &[]),
    p("CertificateThumbprint", &[]),
    p("ComputerName", &["Cn"]),
    p("ConfigurationName", &[]),
    p("ConnectingTimeout", &[]),
    p("ConnectionUri", &["URI", "CU"]),
    p("ContainerId", &[]),
    p("Credential", &[]),
    s("EnableNetworkAccess", &[]),
    p("HostName", &[]),
    p("KeyFilePath", &["IdentityFilePath"]),
    p("Options", &[]),
    p("Port", &[]),
    s("RunAsAdministrator", &[]),
    p("Session", &[]),
    p("SessionOption", &[]),
    s("SSHTransport", &[]),
    p("Subsystem", &[]),
    p("UserName", &[]),
    s("UseSSL", &[]),
    p("VMId", &["VMGuid"]),
    p("VMName", &[]),
];

/// Invoke-Command's own, beside [`REMOTING`].
const INVOKE_COMMAND: &[Parameter] = &[
    p("ArgumentList", &["Args"]),
    s("AsJob", &[]),
    p("FilePath", &["PSPath"]),
    s("HideComputerName", &["HCN"]),
    s("InDisconnectedSession", &["Disconnected"]),
    p("InputObject", &[]),
    p("JobName", &[]),
    s("NoNewScope", &[]),
    s("RemoteDebug", &[]),
    p("ScriptBlock", &["Command"]),
    p("SessionName", &[]),
    p("SSHConnection", &[]),
    p("StrictMode", &[]),
    p("ThrottleLimit", &[]),
];

/// New-PSSession's own.
const NEW_PSSESSION: &[Parameter] =
    &[p("Name", &[]), p("SSHConnection", &[]), p("ThrottleLimit", &[]), s("UseWindowsPowerShell", &[])];

/// Enter-PSSession's own: a session already open, by number or name. Its parameter sets
/// (ComputerName, SSHHost, Session, Uri, InstanceId, Id, Name, VMId, VMName, ContainerId) are
/// documented for PowerShell 7; 5.1's are a subset.
const ENTER_PSSESSION: &[Parameter] = &[p("Id", &[]), p("InstanceId", &[]), p("Name", &[])];

impl Cmdlet {
    /// Recognises a command name; the bool says it was an alias (`icm`, `nsn`, `etsn`).
    pub fn from_name(name: &str) -> Option<(Cmdlet, bool)> {
        match unqualified(name, "microsoft.powershell.core").as_str() {
            "invoke-command" => Some((Cmdlet::InvokeCommand, false)),
            "icm" => Some((Cmdlet::InvokeCommand, true)),
            "new-pssession" => Some((Cmdlet::NewPSSession, false)),
            "nsn" => Some((Cmdlet::NewPSSession, true)),
            "enter-pssession" => Some((Cmdlet::EnterPSSession, false)),
            "etsn" => Some((Cmdlet::EnterPSSession, true)),
            _ => None,
        }
    }

    fn parameters(self) -> impl Iterator<Item = &'static Parameter> {
        let own = match self {
            Cmdlet::InvokeCommand => INVOKE_COMMAND,
            Cmdlet::NewPSSession => NEW_PSSESSION,
            Cmdlet::EnterPSSession => ENTER_PSSESSION,
        };
        own.iter().chain(REMOTING).chain(COMMON)
    }
}

/// A command name in lower case without its module qualifier (`Microsoft.PowerShell.Core\\`),
/// when the qualifier is `module` (lower case); any other qualifier stays, and names nothing
/// the caller knows.
pub(super) fn unqualified(name: &str, module: &str) -> String {
    let lower = name.to_ascii_lowercase();
    match lower.strip_prefix(module).and_then(|rest| rest.strip_prefix('\\')) {
        Some(bare) => bare.to_string(),
        None => lower,
    }
}

/// How a written parameter name reached its parameter.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Via {
    Name,
    Alias,
    Prefix,
}

#[derive(Debug, PartialEq, Eq)]
pub enum Resolution {
    Bound(&'static Parameter, Via),
    /// PowerShell refuses the command: "the parameter name is ambiguous".
    Ambiguous,
    /// No such parameter: PowerShell refuses the command too.
    Unknown,
}

impl std::fmt::Debug for Parameter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name)
    }
}

impl PartialEq for Parameter {
    fn eq(&self, other: &Self) -> bool {
        self.name == other.name
    }
}
impl Eq for Parameter {}

pub fn resolve(cmdlet: Cmdlet, written: &str) -> Resolution {
    let eq = |a: &str| a.eq_ignore_ascii_case(written);
    if let Some(p) = cmdlet.parameters().find(|p| eq(p.name)) {
        return Resolution::Bound(p, Via::Name);
    }
    if let Some(p) = cmdlet.parameters().find(|p| p.aliases.iter().any(|a| eq(a))) {
        return Resolution::Bound(p, Via::Alias);
    }
    let starts = |a: &str| a.len() > written.len() && a[..written.len()].eq_ignore_ascii_case(written);
    let mut found: Option<&'static Parameter> = None;
    for p in cmdlet.parameters() {
        if starts(p.name) || p.aliases.iter().any(|a| starts(a)) {
            match found {
                Some(f) if f.name != p.name => return Resolution::Ambiguous,
                _ => found = Some(p),
            }
        }
    }
    match found {
        Some(p) if !written.is_empty() => Resolution::Bound(p, Via::Prefix),
        _ => Resolution::Unknown,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn name(r: Resolution) -> Option<(&'static str, Via)> {
        match r {
            Resolution::Bound(p, via) => Some((p.name, via)),
            _ => None,
        }
    }

    #[test]
    fn invoke_command_binding() {
        let ic = Cmdlet::InvokeCommand;
        assert_eq!(name(resolve(ic, "ComputerName")), Some(("ComputerName", Via::Name)));
        assert_eq!(name(resolve(ic, "computername")), Some(("ComputerName", Via::Name)));
        assert_eq!(name(resolve(ic, "Cn")), Some(("ComputerName", Via::Alias)));
        assert_eq!(name(resolve(ic, "Comp")), Some(("ComputerName", Via::Prefix)));
        assert_eq!(name(resolve(ic, "ComputerN")), Some(("ComputerName", Via::Prefix)));
        assert_eq!(name(resolve(ic, "CU")), Some(("ConnectionUri", Via::Alias)));
        assert_eq!(name(resolve(ic, "Uri")), Some(("ConnectionUri", Via::Alias)));
        assert_eq!(name(resolve(ic, "ConnectionU")), Some(("ConnectionUri", Via::Prefix)));
        assert_eq!(name(resolve(ic, "Comm")), Some(("ScriptBlock", Via::Prefix)));
        assert_eq!(resolve(ic, "Co"), Resolution::Ambiguous);
        assert_eq!(resolve(ic, "Com"), Resolution::Ambiguous);
        assert_eq!(resolve(ic, "C"), Resolution::Ambiguous);
        assert_eq!(resolve(ic, "Bogus"), Resolution::Unknown);
        assert_eq!(name(resolve(ic, "Sess")), None, "Session and SessionName/SessionOption share it");
        assert_eq!(name(resolve(ic, "Session")), Some(("Session", Via::Name)));
    }

    #[test]
    fn enter_pssession_binding() {
        let et = Cmdlet::EnterPSSession;
        assert_eq!(name(resolve(et, "cn")), Some(("ComputerName", Via::Alias)));
        assert_eq!(name(resolve(et, "Comp")), Some(("ComputerName", Via::Prefix)));
        assert_eq!(name(resolve(et, "Sess")), None, "Session and SessionOption share it");
        assert_eq!(name(resolve(et, "Session")), Some(("Session", Via::Name)));
        assert_eq!(name(resolve(et, "ConnectionU")), Some(("ConnectionUri", Via::Prefix)));
        assert_eq!(name(resolve(et, "Ho")), Some(("HostName", Via::Prefix)));
        assert_eq!(resolve(et, "I"), Resolution::Ambiguous, "Id, InstanceId, InformationAction...");
        assert_eq!(resolve(et, "ScriptBlock"), Resolution::Unknown);
        assert_eq!(Cmdlet::from_name("ETSN"), Some((et, true)));
    }

    #[test]
    fn names() {
        assert_eq!(Cmdlet::from_name("ICM"), Some((Cmdlet::InvokeCommand, true)));
        assert_eq!(
            Cmdlet::from_name("Microsoft.PowerShell.Core\\Invoke-Command"),
            Some((Cmdlet::InvokeCommand, false))
        );
        assert_eq!(Cmdlet::from_name("nsn"), Some((Cmdlet::NewPSSession, true)));
        assert_eq!(Cmdlet::from_name("icmp"), None);
    }
}
