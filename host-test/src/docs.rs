//! The user-facing pages (README.md and docs/*.md) as the tests read them: the configurations
//! they give, found by their markers wherever a page holds them, and their links.

use std::path::{Path, PathBuf};

/// README.md, then every page of docs/ by name.
pub fn pages() -> Vec<PathBuf> {
    let root = crate::workspace_root();
    let mut docs: Vec<PathBuf> = std::fs::read_dir(root.join("docs"))
        .expect("docs/")
        .map(|e| e.expect("a docs/ entry").path())
        .filter(|p| p.extension().is_some_and(|x| x == "md"))
        .collect();
    docs.sort();
    std::iter::once(root.join("README.md")).chain(docs).collect()
}

/// Every page's text, one after another: where a test looks up a configuration block by its
/// marker (`real_fluent_bit::readme_config`), so that a block moved between pages is still the
/// one tested.
pub fn text() -> String {
    pages().iter().map(|p| std::fs::read_to_string(p).expect("a page")).collect::<Vec<_>>().join("\n")
}

/// The YAML block that follows `<!-- KIND: NAME -->` in `text` (`fluent-bit-config`,
/// `vector-config`), up to its closing fence.
pub fn block(text: &str, kind: &str, name: &str) -> anyhow::Result<String> {
    use anyhow::Context as _;
    let marker = format!("<!-- {kind}: {name} -->");
    let after = text.split_once(&marker).with_context(|| format!("no {marker} in the docs"))?.1;
    let body =
        after.trim_start().strip_prefix("```yaml\n").with_context(|| format!("no ```yaml block after {marker}"))?;
    let end = body.find("\n```").with_context(|| format!("unclosed block after {marker}"))?;
    Ok(body[..end + 1].to_string())
}

/// The lines of `text` outside fenced code blocks.
fn prose(text: &str) -> impl Iterator<Item = &str> {
    let mut fenced = false;
    text.lines().filter(move |l| {
        if l.trim_start().starts_with("```") {
            fenced = !fenced;
            return false;
        }
        !fenced
    })
}

/// The anchors GitHub gives a page's headings (lower case, punctuation dropped, spaces as
/// hyphens, a repeated one suffixed `-1`, `-2`...), and those the page sets itself.
pub fn anchors(text: &str) -> Vec<String> {
    let mut seen: Vec<String> = Vec::new();
    let mut times: std::collections::HashMap<String, usize> = std::collections::HashMap::new();
    for line in prose(text) {
        // An anchor of its own, where a paragraph is linked to: `<a id="name"></a>`.
        if let Some(id) = line.split("<a id=\"").nth(1).and_then(|rest| rest.split('"').next()) {
            seen.push(id.to_string());
            continue;
        }
        let Some(heading) = line.strip_prefix('#').map(|h| h.trim_start_matches('#')) else { continue };
        if !heading.starts_with(' ') {
            continue;
        }
        let slug: String = heading
            .trim()
            .to_lowercase()
            .chars()
            .filter_map(|c| match c {
                ' ' => Some('-'),
                c if c.is_alphanumeric() || c == '-' || c == '_' => Some(c),
                _ => None,
            })
            .collect();
        let before = times.entry(slug.clone()).or_default();
        seen.push(if *before == 0 { slug } else { format!("{slug}-{before}") });
        *before += 1;
    }
    seen
}

/// The targets of a page's Markdown links (`[text](target)`), outside code.
pub fn links(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    for line in prose(text) {
        // Inline code cannot hold a link: drop it first.
        let bare: String = line.split('`').step_by(2).collect::<Vec<_>>().join(" ");
        let mut rest = bare.as_str();
        while let Some(at) = rest.find("](") {
            let after = &rest[at + 2..];
            let Some(end) = after.find(')') else { break };
            out.push(after[..end].to_string());
            rest = &after[end..];
        }
    }
    out
}

/// Why `target`, linked from the page `from`, leads nowhere, if it does.
pub fn broken(from: &Path, target: &str) -> Option<String> {
    if target.starts_with("http://") || target.starts_with("https://") || target.starts_with("mailto:") {
        return None;
    }
    let (path, anchor) = target.split_once('#').map_or((target, None), |(p, a)| (p, Some(a)));
    let file = if path.is_empty() { from.to_path_buf() } else { from.parent()?.join(path) };
    if !file.exists() {
        return Some(format!("{} does not exist", file.display()));
    }
    let anchor = anchor?;
    let text = std::fs::read_to_string(&file).ok()?;
    (!anchors(&text).iter().any(|a| a == anchor)).then(|| format!("no heading #{anchor} in {}", file.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn anchors_as_github_makes_them() {
        let page = "# Fluent Bit\n<a id=\"own\"></a>\n## Script blocks (EventID 4104)\n```\n# not a heading\n```\n## `serve`: OTLP\n## Fluent Bit on Windows\n## Fluent Bit\n";
        let want =
            ["fluent-bit", "own", "script-blocks-eventid-4104", "serve-otlp", "fluent-bit-on-windows", "fluent-bit-1"];
        assert_eq!(anchors(page), want);
        assert_eq!(links("see [a](docs/a.md#x) and `[b](no)` and [c](#y)\n```\n[d](e)\n```"), ["docs/a.md#x", "#y"]);
    }
}
