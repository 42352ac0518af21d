//! The documents name only files that exist: every repository path written in backticks in
//! README.md and docs/*.md (a path with `*` must match at least one file).

use std::path::Path;

/// Where a repository path starts: a top-level folder or file of the project.
const ROOTS: &[&str] = &[
    "asl/",
    "src/",
    "lambda/",
    "pipeline/",
    "tests/",
    "definitions/",
    "docs/",
    "benches/",
    ".ci/",
    "Cargo.toml",
    "deploy.toml",
    "README.md",
];

#[test]
fn every_path_the_documents_name_exists() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut documents = vec![root.join("README.md")];
    for entry in std::fs::read_dir(root.join("docs")).expect("docs/ is readable") {
        let path = entry.expect("docs/ is readable").path();
        if path.extension().is_some_and(|e| e == "md") {
            documents.push(path);
        }
    }
    let mut missing = Vec::new();
    for document in &documents {
        let text = std::fs::read_to_string(document).expect("a document is readable");
        for path in text
            .split('`')
            .skip(1)
            .step_by(2)
            .filter(|t| is_repository_path(t))
        {
            if !exists(root, path) {
                missing.push(format!(
                    "{}: {path}",
                    document.strip_prefix(root).unwrap().display()
                ));
            }
        }
    }
    assert!(
        missing.is_empty(),
        "paths named that do not exist:\n{}",
        missing.join("\n")
    );
}

fn is_repository_path(text: &str) -> bool {
    ROOTS.iter().any(|root| text.starts_with(root))
        && !text.contains(char::is_whitespace)
        && !text.contains("://")
}

/// Whether `path` names a file or folder of the project; a `*` in its last component matches any
/// text, as in the shell.
fn exists(root: &Path, path: &str) -> bool {
    let Some((prefix, suffix)) = path.split_once('*') else {
        return root.join(path).exists();
    };
    let (folder, start) = prefix.rsplit_once('/').unwrap_or(("", prefix));
    std::fs::read_dir(root.join(folder)).is_ok_and(|entries| {
        entries.flatten().any(|entry| {
            let name = entry.file_name();
            let name = name.to_string_lossy();
            name.starts_with(start) && name.ends_with(suffix)
        })
    })
}
