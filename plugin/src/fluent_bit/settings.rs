//! Where the Fluent Bit module's configuration comes from, and saying so.
//!
//! Fluent Bit gives a wasm filter no options of its own: its only channel is the WASI
//! directories it preopens, one per entry of the filter's `Accessible_Paths` (default `.`).
//! So the configuration is `winrm-detect.json` in one of those directories, the first in
//! `Accessible_Paths` order that has one; a filter whose `Accessible_Paths` names its own
//! directory gets its own configuration (per-filter options). The outcome is said once on
//! stderr, which is Fluent Bit's log: which file was used, or that the defaults apply, or
//! why a file was refused.
//!
//! A refused file is not silently replaced: the module detects with the built-in defaults
//! (which suppress nothing, so no match is lost) and marks what it returns with
//! `winrm_detect_error` (kind `bad-config`) until the file is fixed and Fluent Bit restarted.

use crate::config::Config;
use crate::error::{ErrorKind, ScanError};

pub(super) const FILE_NAME: &str = "winrm-detect.json";

pub(super) struct Settings {
    /// What the detectors run with: the file's configuration, or the defaults.
    pub config: Config,
    /// Why the file was refused, when it was.
    pub refused: Option<ScanError>,
}

impl Settings {
    pub fn load() -> Settings {
        let dirs = preopened_dirs();
        let (settings, notice) = choose(&dirs, |path| std::fs::read_to_string(path));
        eprintln!("[winrm-detect] {notice}");
        settings
    }
}

/// The configuration from the first of `dirs` that holds [`FILE_NAME`], and the notice for
/// the log. `read` reads a file (a parameter so that this is tested natively).
pub(super) fn choose(dirs: &[String], read: impl Fn(&str) -> std::io::Result<String>) -> (Settings, String) {
    let mut found = Vec::new();
    for dir in dirs {
        let path = match dir.trim_end_matches('/') {
            "." | "" if dir != "/" => FILE_NAME.to_string(),
            d => format!("{d}/{FILE_NAME}"),
        };
        match read(&path) {
            Ok(text) => found.push((path, Ok(text))),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => found.push((path, Err(e))),
        }
    }
    let Some((path, text)) = found.first() else {
        let searched = match dirs.is_empty() {
            true => "no accessible_paths".to_string(),
            false => format!("accessible_paths {}", dirs.join(",")),
        };
        let notice = format!("info: no {FILE_NAME} in {searched}; the defaults apply (mode parity)");
        return (Settings { config: Config::default(), refused: None }, notice);
    };
    let others: Vec<&str> = found[1..].iter().map(|(p, _)| p.as_str()).collect();
    let ignored = match others.is_empty() {
        true => String::new(),
        false => format!("; also found and ignored: {} (the first of accessible_paths wins)", others.join(", ")),
    };
    let parsed = match text {
        Ok(text) => Config::from_json(text),
        Err(e) => Err(ScanError::new(ErrorKind::BadConfig, format!("cannot be read: {e}"))),
    };
    match parsed {
        Ok(config) => {
            let notice = format!(
                "info: configuration from {path} (mode {}, macro_profile {}, output {}, rules {}){ignored}",
                config.mode.as_str(),
                config.macro_profile.as_str(),
                config.output.as_str(),
                config.rules.iter().map(|r| r.as_str()).collect::<Vec<_>>().join(","),
            );
            (Settings { config, refused: None }, notice)
        }
        Err(mut e) => {
            e.message = format!("{path}: {}", e.message);
            let notice = format!(
                "error: {} — refused. Detecting with the defaults; every record returned carries \
                 winrm_detect_error (bad-config) until the file is fixed and Fluent Bit restarted{ignored}",
                e.message
            );
            (Settings { config: Config::default(), refused: Some(e) }, notice)
        }
    }
}

/// The directories WAMR preopened, in `Accessible_Paths` order: WASI numbers preopens from
/// fd 3 up, and the first fd that is not one ends the list.
#[cfg(all(target_arch = "wasm32", target_os = "wasi", target_env = "p1"))]
fn preopened_dirs() -> Vec<String> {
    let mut dirs = Vec::new();
    for fd in 3.. {
        // SAFETY: plain WASI calls; the name is written into a buffer of the length asked.
        let Ok(prestat) = (unsafe { wasi::fd_prestat_get(fd) }) else { break };
        if prestat.tag != wasi::PREOPENTYPE_DIR.raw() {
            continue;
        }
        // SAFETY: `dir` is the union member for PREOPENTYPE_DIR.
        let len = unsafe { prestat.u.dir.pr_name_len };
        let mut name = vec![0u8; len];
        // SAFETY: `name` holds `len` bytes.
        if unsafe { wasi::fd_prestat_dir_name(fd, name.as_mut_ptr(), len) }.is_ok() {
            // Some runtimes count a trailing NUL in the length.
            while name.last() == Some(&0) {
                name.pop();
            }
            dirs.push(String::from_utf8_lossy(&name).into_owned());
        }
    }
    dirs
}

/// Natively (the unit tests) nothing is preopened.
#[cfg(not(all(target_arch = "wasm32", target_os = "wasi", target_env = "p1")))]
fn preopened_dirs() -> Vec<String> {
    Vec::new()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;
    use std::io::{Error, ErrorKind as IoKind};

    fn files(list: &[(&str, &str)]) -> impl Fn(&str) -> std::io::Result<String> {
        let map: HashMap<String, String> = list.iter().map(|(p, t)| (p.to_string(), t.to_string())).collect();
        move |p: &str| map.get(p).cloned().ok_or_else(|| Error::from(IoKind::NotFound))
    }

    fn dirs(list: &[&str]) -> Vec<String> {
        list.iter().map(|d| d.to_string()).collect()
    }

    #[test]
    fn defaults_when_no_directory_has_the_file() {
        let (s, notice) = choose(&dirs(&["/etc/fluent-bit", "."]), files(&[]));
        assert_eq!(s.config, Config::default());
        assert!(s.refused.is_none());
        assert!(notice.contains("no winrm-detect.json in accessible_paths /etc/fluent-bit,."), "{notice}");
        let (_, notice) = choose(&[], files(&[]));
        assert!(notice.contains("no accessible_paths"), "{notice}");
    }

    #[test]
    fn the_first_directory_in_order_wins_and_the_others_are_named() {
        let read = files(&[
            ("/srv/a/winrm-detect.json", r#"{"mode":"extended"}"#),
            ("winrm-detect.json", r#"{"mode":"parity"}"#),
        ]);
        let (s, notice) = choose(&dirs(&["/srv/empty", "/srv/a/", "."]), read);
        assert_eq!(s.config.mode, crate::Mode::Extended);
        assert!(notice.contains("from /srv/a/winrm-detect.json (mode extended"), "{notice}");
        assert!(notice.contains("ignored: winrm-detect.json"), "{notice}");
    }

    #[test]
    fn a_bad_file_is_refused_loudly_and_the_defaults_detect() {
        let read = files(&[("/etc/fluent-bit/winrm-detect.json", r#"{"mode":"loud"}"#)]);
        let (s, notice) = choose(&dirs(&["/etc/fluent-bit"]), read);
        assert_eq!(s.config, Config::default());
        let e = s.refused.expect("refused");
        assert_eq!(e.kind, ErrorKind::BadConfig);
        assert!(e.message.starts_with("/etc/fluent-bit/winrm-detect.json: configuration key `mode`"), "{}", e.message);
        assert!(notice.starts_with("error: /etc/fluent-bit/winrm-detect.json"), "{notice}");
        // An unreadable file is refused too, not skipped.
        let unreadable = |_: &str| Err(Error::from(IoKind::PermissionDenied));
        let (s, _) = choose(&dirs(&["/etc/fluent-bit"]), unreadable);
        assert!(s.refused.is_some());
    }
}
