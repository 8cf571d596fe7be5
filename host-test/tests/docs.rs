//! The pages a user reads hold together: README.md is a front page (at most 300 lines) that
//! links every page of docs/; every relative link and anchor in them resolves; none names a
//! path outside the repository.

use host_test::docs;

#[test]
fn every_link_resolves() {
    let mut broken = Vec::new();
    let mut checked = 0;
    for page in docs::pages() {
        let text = std::fs::read_to_string(&page).unwrap();
        for target in docs::links(&text) {
            checked += 1;
            if let Some(why) = docs::broken(&page, &target) {
                broken.push(format!("{}: ({target}): {why}", page.display()));
            }
        }
    }
    assert!(broken.is_empty(), "broken links:\n{}", broken.join("\n"));
    assert!(checked > 30, "only {checked} links found");
}

#[test]
fn the_readme_is_a_front_page_to_every_page() {
    let pages = docs::pages();
    let readme = std::fs::read_to_string(&pages[0]).unwrap();
    let lines = readme.lines().count();
    assert!(lines <= 300, "README.md has {lines} lines: move the detail to docs/");
    let linked = docs::links(&readme);
    for page in &pages[1..] {
        let name = format!("docs/{}", page.file_name().unwrap().to_string_lossy());
        assert!(linked.iter().any(|l| l.split('#').next() == Some(name.as_str())), "README.md never links {name}");
    }
    for command in ["cargo run --release -- scan", "cargo test --workspace --locked"] {
        assert!(readme.contains(command), "the README lost `{command}`");
    }
}

#[test]
fn no_page_names_a_path_outside_the_repository() {
    for page in docs::pages() {
        let text = std::fs::read_to_string(&page).unwrap();
        for (i, line) in text.lines().enumerate() {
            assert!(!line.contains("../shared"), "{}:{}: {line}", page.display(), i + 1);
        }
    }
}
