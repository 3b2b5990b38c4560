//! The shape of the tree (issue 10): everything about an upstream lives in its own folder, so a
//! new upstream is a new folder. Outside the upstream folders, at most three Rust files of the
//! core, the Worker and the npm crate may name an upstream in code (the registry, the
//! `Platform` enum, and one more); comments do not count, string literals do. Tests, the
//! sandbox and the simulators are exempt: naming upstreams is what they are for.

use std::fs;
use std::path::{Path, PathBuf};

const ALLOWED_FILES: usize = 3;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// The upstream folders (`src/upstreams/*/`), whose names are the words that name their
/// upstreams (`wechat` also names `wechat_shop`, `WechatStore`, ...).
fn upstream_folders() -> Vec<String> {
    let mut names: Vec<String> = fs::read_dir(root().join("src/upstreams"))
        .expect("src/upstreams/ is readable")
        .filter_map(Result::ok)
        .filter(|e| e.path().is_dir())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = fs::read_dir(dir) else { return };
    for entry in entries.filter_map(Result::ok) {
        let path = entry.path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// The text of a Rust file without its comments (line, doc and block comments); string
/// literals are kept, since a platform named in a message is named in code.
fn code_only(source: &str) -> String {
    let b = source.as_bytes();
    let mut out = String::with_capacity(source.len());
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'/' if b.get(i + 1) == Some(&b'/') => {
                while i < b.len() && b[i] != b'\n' {
                    i += 1;
                }
            }
            b'/' if b.get(i + 1) == Some(&b'*') => {
                let mut depth = 0;
                while i < b.len() {
                    if b[i] == b'/' && b.get(i + 1) == Some(&b'*') {
                        depth += 1;
                        i += 2;
                    } else if b[i] == b'*' && b.get(i + 1) == Some(&b'/') {
                        depth -= 1;
                        i += 2;
                        if depth == 0 {
                            break;
                        }
                    } else {
                        i += 1;
                    }
                }
            }
            b'"' => {
                let start = i;
                i += 1;
                while i < b.len() && b[i] != b'"' {
                    i += if b[i] == b'\\' { 2 } else { 1 };
                }
                i = (i + 1).min(b.len());
                out.push_str(&source[start..i]);
            }
            b'\'' => {
                // A char literal ('"' must not open a string) or a lifetime: copy it as it is.
                let end = source[i + 1..].char_indices().nth(1).map_or(b.len(), |(o, c)| i + 1 + o + c.len_utf8());
                if end <= b.len() && source[i..end].ends_with('\'') && end - i >= 3 {
                    out.push_str(&source[i..end]);
                    i = end;
                } else if source[i..].starts_with("'\\") {
                    let close = source[i + 2..].find('\'').map_or(b.len(), |o| i + 2 + o + 1);
                    out.push_str(&source[i..close]);
                    i = close;
                } else {
                    out.push('\'');
                    i += 1;
                }
            }
            _ => {
                let c = source[i..].chars().next().expect("in bounds");
                out.push(c);
                i += c.len_utf8();
            }
        }
    }
    out
}

/// Rust files outside the upstream folders (tests, sandboxes and simulators aside) that name
/// an upstream in code, each with the first name found.
fn files_naming_upstreams() -> Vec<(String, String)> {
    let root = root();
    let folders = upstream_folders();
    let mut files = Vec::new();
    for dir in ["src", "worker/src", "www/src"] {
        rust_files(&root.join(dir), &mut files);
    }
    let mut found = Vec::new();
    for path in files {
        let rel = path.strip_prefix(&root).expect("under root").to_string_lossy().replace('\\', "/");
        let in_upstream_folder = folders.iter().any(|f| rel.starts_with(&format!("src/upstreams/{f}/")));
        let exempt = rel.contains("sandbox") || rel.contains("/tests/") || rel.ends_with("/tests.rs");
        if in_upstream_folder || exempt {
            continue;
        }
        let code = code_only(&fs::read_to_string(&path).expect("readable")).to_ascii_lowercase();
        // A file's unit tests are tests.
        let code = code.split("#[cfg(test)]\nmod ").next().unwrap_or_default();
        if let Some(name) = folders.iter().find(|f| code.contains(f.as_str())) {
            found.push((rel, name.clone()));
        }
    }
    found.sort();
    found
}

#[test]
fn upstreams_are_named_only_in_their_folders_and_the_registry() {
    let found = files_naming_upstreams();
    assert!(
        found.len() <= ALLOWED_FILES,
        "{} Rust files outside the upstream folders name an upstream (at most {ALLOWED_FILES} may: the registry, \
         the Platform enum, one more):\n{}",
        found.len(),
        found.iter().map(|(f, n)| format!("  {f} names {n}")).collect::<Vec<_>>().join("\n")
    );
}

#[test]
fn the_check_sees_code_and_not_comments() {
    let code = code_only("// xiaoe\n/* lingxing /* nested */ wechat */ let a = \"wechat_shop\"; let c = '\"'; // x");
    assert!(!code.contains("xiaoe") && !code.contains("lingxing"), "{code}");
    assert!(code.contains("\"wechat_shop\""), "{code}");
    assert!(code.contains("let c = '\"';"), "{code}");
    // The upstreams are found.
    let folders = upstream_folders();
    assert!(["xiaoe", "lingxing", "wechat"].iter().all(|u| folders.iter().any(|f| f == u)), "{folders:?}");
}
