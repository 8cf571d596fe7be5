//! The library's types and a WIT binding's, moved into each other field by field: the guest's
//! `wit-bindgen` types in `exports.rs`, the runner's `wasmtime::component::bindgen!` types in
//! `runner/src/component.rs`. Both bindings name the WIT types as the library does
//! (`Annotation`, `Rule`, `Matcher`, `RemoteTarget`, `Evidence`, `ErrorKind`), so one list of
//! fields and variants serves both directions, and a field or variant added to the WIT fails
//! to compile on both sides until it is added here.
//!
//! Each macro takes the two sides as modules, `$from => $to`: the binding's module (`wit`) and
//! one that re-exports the library's types (`lib`).

/// An `annotation` record from `$from`'s types to `$to`'s. `$field` converts one entry of
/// `fields` (a `(name, value)` tuple in the library, a `field` record in the WIT).
#[macro_export]
macro_rules! mirror_annotation {
    ($a:expr, $from:ident => $to:ident, field: $field:expr) => {{
        let a = $a;
        $to::Annotation {
            rule: match a.rule {
                $from::Rule::ProcessCreation => $to::Rule::ProcessCreation,
                $from::Rule::ScriptBlock => $to::Rule::ScriptBlock,
                $from::Rule::Winrs => $to::Rule::Winrs,
                $from::Rule::InteractiveSession => $to::Rule::InteractiveSession,
                $from::Rule::WinrmSpawningAProcess => $to::Rule::WinrmSpawningAProcess,
                $from::Rule::WinrmExecuteShell => $to::Rule::WinrmExecuteShell,
            },
            rule_id: a.rule_id,
            rule_name: a.rule_name,
            rule_version: a.rule_version,
            matcher: match a.matcher {
                $from::Matcher::Parity => $to::Matcher::Parity,
                $from::Matcher::Extended => $to::Matcher::Extended,
            },
            macro_profile: a.macro_profile,
            mitre_technique_ids: a.mitre_technique_ids,
            mitre_tactics: a.mitre_tactics,
            kill_chain_phases: a.kill_chain_phases,
            risk_object: a.risk_object,
            risk_object_type: a.risk_object_type,
            risk_score: a.risk_score,
            message: a.message,
            fields: a.fields.into_iter().map($field).collect(),
            remote_targets: a
                .remote_targets
                .into_iter()
                .map(|t| $to::RemoteTarget { host: t.host, loopback: t.loopback })
                .collect(),
            evidence: a
                .evidence
                .into_iter()
                .map(|e| $to::Evidence { kind: e.kind, text: e.text, layer: e.layer, offset: e.offset })
                .collect(),
            techniques: a.techniques,
        }
    }};
}

/// An `error-kind` from `$from`'s type to `$to`'s.
#[macro_export]
macro_rules! mirror_error_kind {
    ($kind:expr, $from:ident => $to:ident) => {
        $crate::mirror_error_kind!(@variants $kind, $from => $to,
            Empty InvalidUtf8 TooLarge TooDeep BrokenJson BrokenXml UnknownShape BadConfig Internal)
    };
    (@variants $kind:expr, $from:ident => $to:ident, $($variant:ident)+) => {
        match $kind {
            $($from::ErrorKind::$variant => $to::ErrorKind::$variant,)+
        }
    };
}
