//! The core's layers point one way: every `crate::` / `super::` path of `crates/core/src` (and of
//! the binding's `src/`) is an edge between two modules, and this test fails on any cycle
//! between modules and on any import of a higher layer by a lower one.
//!
//! Layers of `crates/core/src`, lowest first (a module may import its own layer and those below):
//! `types` (data) → `calc` (pure computations) → `infra` (the outside world) → `stages` (one
//! step of a run each) → `ops` (the other exported calls) → `pipeline` → the crate root
//! (`lib.rs`, re-exports only: nothing imports it).
//!
//! The checker reads source text, not the compiler's view: comments and string literals are
//! skipped, `use` groups (`crate::a::{b, c::D}`) are expanded, `super::` is resolved (inside an
//! inline `mod tests { … }` too), and a path names the longest module it starts with.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// The modules of a crate and the modules each one imports.
#[derive(Debug, Default)]
struct Graph {
    edges: BTreeMap<String, BTreeSet<String>>,
}

/// The module a source file is, from its path under `src/`: `lib.rs` is `crate`,
/// `stages/mod.rs` is `stages`, `stages/job.rs` is `stages::job`.
fn module_of(rel: &str) -> String {
    let rel = rel.trim_end_matches(".rs");
    let parts: Vec<&str> = rel.split('/').collect();
    let parts: Vec<&str> = match parts.as_slice() {
        ["lib"] | ["main"] => vec![],
        [rest @ .., "mod"] => rest.to_vec(),
        all => all.to_vec(),
    };
    if parts.is_empty() {
        "crate".into()
    } else {
        parts.join("::")
    }
}

/// The source with comments, string literals and char literals blanked (lifetimes are kept).
fn strip(src: &str) -> String {
    let b: Vec<char> = src.chars().collect();
    let mut out = String::with_capacity(src.len());
    let mut i = 0;
    let ident = |c: char| c.is_alphanumeric() || c == '_';
    while i < b.len() {
        let c = b[i];
        let next = b.get(i + 1).copied();
        if c == '/' && next == Some('/') {
            while i < b.len() && b[i] != '\n' {
                i += 1;
            }
        } else if c == '/' && next == Some('*') {
            let mut depth = 0;
            while i < b.len() {
                if b[i] == '/' && b.get(i + 1) == Some(&'*') {
                    depth += 1;
                    i += 2;
                } else if b[i] == '*' && b.get(i + 1) == Some(&'/') {
                    depth -= 1;
                    i += 2;
                    if depth == 0 {
                        break;
                    }
                } else {
                    i += 1;
                }
            }
            out.push(' ');
        } else if c == 'r'
            && (i == 0 || !ident(b[i - 1]) || (b[i - 1] == 'b' && (i < 2 || !ident(b[i - 2]))))
            && matches!(next, Some('#') | Some('"'))
        {
            // A raw string: r"…", r#"…"#, br##"…"##.
            let mut j = i + 1;
            let mut hashes = 0;
            while b.get(j) == Some(&'#') {
                hashes += 1;
                j += 1;
            }
            if b.get(j) != Some(&'"') {
                out.push(c);
                i += 1;
                continue;
            }
            j += 1;
            loop {
                if j >= b.len() {
                    break;
                }
                if b[j] == '"' && (0..hashes).all(|k| b.get(j + 1 + k) == Some(&'#')) {
                    j += 1 + hashes;
                    break;
                }
                j += 1;
            }
            out.push_str("\"\"");
            i = j;
        } else if c == '"' {
            i += 1;
            while i < b.len() && b[i] != '"' {
                if b[i] == '\\' {
                    i += 1;
                }
                i += 1;
            }
            i += 1;
            out.push_str("\"\"");
        } else if c == '\'' {
            // A char literal ('x', '\n', '\u{1F600}'), else a lifetime.
            if next == Some('\\') {
                let mut j = i + 2;
                while j < b.len() && b[j] != '\'' {
                    j += 1;
                }
                i = j + 1;
                out.push_str("' '");
            } else if b.get(i + 2) == Some(&'\'') {
                i += 3;
                out.push_str("' '");
            } else {
                out.push(c);
                i += 1;
            }
        } else {
            out.push(c);
            i += 1;
        }
    }
    out
}

/// Reads a path tree at `i` (after a `::`): `a::b`, `{a, b::{c, d}}`, `*`; every leaf path.
fn parse_tree(s: &[char], i: &mut usize) -> Vec<Vec<String>> {
    let skip_ws = |i: &mut usize| {
        while *i < s.len() && s[*i].is_whitespace() {
            *i += 1;
        }
    };
    skip_ws(i);
    if *i < s.len() && s[*i] == '{' {
        *i += 1;
        let mut out = Vec::new();
        loop {
            skip_ws(i);
            if *i >= s.len() {
                return out;
            }
            if s[*i] == '}' {
                *i += 1;
                return out;
            }
            out.extend(parse_tree(s, i));
            skip_ws(i);
            if *i < s.len() && s[*i] == ',' {
                *i += 1;
            } else if *i < s.len() && s[*i] != '}' {
                // `x as y` and the like: skip to the next item.
                while *i < s.len() && s[*i] != ',' && s[*i] != '}' {
                    *i += 1;
                }
            }
        }
    }
    let start = *i;
    while *i < s.len() && (s[*i].is_alphanumeric() || s[*i] == '_') {
        *i += 1;
    }
    if start == *i {
        return vec![vec![]];
    }
    let ident: String = s[start..*i].iter().collect();
    let save = *i;
    skip_ws(i);
    if s.get(*i) == Some(&':') && s.get(*i + 1) == Some(&':') {
        *i += 2;
        parse_tree(s, i)
            .into_iter()
            .map(|mut p| {
                p.insert(0, ident.clone());
                p
            })
            .collect()
    } else {
        *i = save;
        vec![vec![ident]]
    }
}

/// Every module path `src` refers to, as absolute paths (`["stages", "job", "Run"]`), for a
/// file that is module `module` (`crate` for the root) and declares the child modules
/// `children`: `crate::…` and `$crate::…` paths, `super::…` paths, and `use` paths that start
/// with a child module's name.
fn paths_of(src: &str, module: &str) -> Vec<Vec<String>> {
    let s: Vec<char> = strip(src).chars().collect();
    let base: Vec<String> = if module == "crate" {
        vec![]
    } else {
        module.split("::").map(str::to_string).collect()
    };
    let children = declared_modules(&s);
    let mut out = Vec::new();
    // Inline modules (`mod tests {`) open at a brace depth: `super` inside them is the file's
    // module itself.
    let mut inline: Vec<(String, usize)> = Vec::new();
    let mut depth = 0usize;
    let mut i = 0;
    let is_ident = |c: char| c.is_alphanumeric() || c == '_';
    while i < s.len() {
        let c = s[i];
        if c == '{' {
            depth += 1;
            i += 1;
            continue;
        }
        if c == '}' {
            depth = depth.saturating_sub(1);
            while inline.last().is_some_and(|(_, d)| *d > depth) {
                inline.pop();
            }
            i += 1;
            continue;
        }
        let boundary = i == 0 || !is_ident(s[i - 1]);
        if !boundary || !is_ident(c) {
            i += 1;
            continue;
        }
        let start = i;
        while i < s.len() && is_ident(s[i]) {
            i += 1;
        }
        let word: String = s[start..i].iter().collect();
        let here: Vec<String> = base
            .iter()
            .cloned()
            .chain(inline.iter().map(|(n, _)| n.clone()))
            .collect();
        let after_colons = |j: usize| s.get(j) == Some(&':') && s.get(j + 1) == Some(&':');
        match word.as_str() {
            "mod" => {
                let (name, _, mut j) = next_word(&s, i);
                while j < s.len() && s[j].is_whitespace() {
                    j += 1;
                }
                if s.get(j) == Some(&'{') && !name.is_empty() {
                    inline.push((name, depth + 1));
                }
            }
            "crate" if after_colons(i) => {
                let mut j = i + 2;
                out.extend(parse_tree(&s, &mut j));
                i = j;
            }
            "super" if after_colons(i) => {
                let mut up = here.clone();
                let mut j = i;
                loop {
                    up.pop();
                    j += 2;
                    let rest: String = s[j..(j + 5).min(s.len())].iter().collect();
                    if rest == "super" && after_colons(j + 5) {
                        j += 5;
                    } else {
                        break;
                    }
                }
                for p in parse_tree(&s, &mut j) {
                    out.push(up.iter().cloned().chain(p).collect());
                }
                i = j;
            }
            "use" => {
                let (first, n0, _) = next_word(&s, i);
                if inline.is_empty() && children.contains(&first) {
                    let mut k = n0;
                    for p in parse_tree(&s, &mut k) {
                        out.push(base.iter().cloned().chain(p).collect());
                    }
                    i = k;
                }
            }
            _ => {}
        }
    }
    out
}

/// The identifier after `i` (skipping white space), where it starts, and where it ends.
fn next_word(s: &[char], i: usize) -> (String, usize, usize) {
    let mut j = i;
    while j < s.len() && s[j].is_whitespace() {
        j += 1;
    }
    let start = j;
    while j < s.len() && (s[j].is_alphanumeric() || s[j] == '_') {
        j += 1;
    }
    (s[start..j].iter().collect(), start, j)
}

/// The modules a file declares as files of their own (`mod x;`, `pub mod x;`).
fn declared_modules(s: &[char]) -> BTreeSet<String> {
    let text: String = s.iter().collect();
    let mut out = BTreeSet::new();
    for (at, _) in text.match_indices("mod ") {
        if at > 0 && (text[..at].ends_with(|c: char| c.is_alphanumeric() || c == '_')) {
            continue;
        }
        let rest = text[at + 4..].trim_start();
        let name: String = rest
            .chars()
            .take_while(|c| c.is_alphanumeric() || *c == '_')
            .collect();
        if !name.is_empty() && rest[name.len()..].trim_start().starts_with(';') {
            out.insert(name);
        }
    }
    out
}

/// The graph of a crate given as (path under `src/`, source) pairs.
fn graph(files: &[(String, String)]) -> Graph {
    let modules: BTreeSet<String> = files.iter().map(|(p, _)| module_of(p)).collect();
    let mut g = Graph::default();
    for (path, src) in files {
        let from = module_of(path);
        let entry = g.edges.entry(from.clone()).or_default();
        for p in paths_of(src, &from) {
            // The longest module the path starts with; none is the crate root.
            let to = (1..=p.len())
                .rev()
                .map(|n| p[..n].join("::"))
                .find(|m| modules.contains(m))
                .unwrap_or_else(|| "crate".into());
            if to != from {
                entry.insert(to);
            }
        }
    }
    g
}

/// The cycles: every strongly connected set of two or more modules (Tarjan), sorted.
fn cycles(g: &Graph) -> Vec<Vec<String>> {
    struct T<'a> {
        g: &'a Graph,
        index: BTreeMap<&'a str, usize>,
        low: BTreeMap<&'a str, usize>,
        stack: Vec<&'a str>,
        on: BTreeSet<&'a str>,
        next: usize,
        out: Vec<Vec<String>>,
    }
    fn visit<'a>(t: &mut T<'a>, v: &'a str) {
        t.index.insert(v, t.next);
        t.low.insert(v, t.next);
        t.next += 1;
        t.stack.push(v);
        t.on.insert(v);
        let targets: Vec<&'a str> =
            t.g.edges
                .get(v)
                .map(|s| s.iter().map(String::as_str).collect())
                .unwrap_or_default();
        for w in targets {
            if !t.index.contains_key(w) {
                visit(t, w);
                let lw = t.low[w];
                let lv = t.low.get_mut(v).unwrap();
                *lv = (*lv).min(lw);
            } else if t.on.contains(w) {
                let iw = t.index[w];
                let lv = t.low.get_mut(v).unwrap();
                *lv = (*lv).min(iw);
            }
        }
        if t.low[v] == t.index[v] {
            let mut comp = Vec::new();
            while let Some(w) = t.stack.pop() {
                t.on.remove(w);
                comp.push(w.to_string());
                if w == v {
                    break;
                }
            }
            if comp.len() > 1 {
                comp.sort();
                t.out.push(comp);
            }
        }
    }
    let mut t = T {
        g,
        index: BTreeMap::new(),
        low: BTreeMap::new(),
        stack: Vec::new(),
        on: BTreeSet::new(),
        next: 0,
        out: Vec::new(),
    };
    let nodes: Vec<&str> = g.edges.keys().map(String::as_str).collect();
    for v in nodes {
        if !t.index.contains_key(v) {
            visit(&mut t, v);
        }
    }
    t.out.sort();
    t.out
}

/// The layer of a module of `crates/core/src` (see the module's documentation).
fn core_layer(module: &str) -> Option<usize> {
    let top = module.split("::").next().unwrap_or(module);
    [
        "types", "calc", "infra", "stages", "ops", "pipeline", "crate",
    ]
    .iter()
    .position(|l| *l == top)
}

/// Every edge from a module to a module of a higher layer, as `from -> to`.
fn upward(g: &Graph, layer: impl Fn(&str) -> Option<usize>) -> Vec<String> {
    let mut out = Vec::new();
    for (from, tos) in &g.edges {
        for to in tos {
            match (layer(from), layer(to)) {
                (Some(a), Some(b)) if b > a => out.push(format!("{from} -> {to}")),
                (None, _) => out.push(format!("{from} is in no layer")),
                _ => {}
            }
        }
    }
    out.dedup();
    out
}

fn read_crate(src: &Path) -> Vec<(String, String)> {
    fn walk(dir: &Path, root: &Path, out: &mut Vec<(String, String)>) {
        let mut entries: Vec<PathBuf> = std::fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().path())
            .collect();
        entries.sort();
        for p in entries {
            if p.is_dir() {
                walk(&p, root, out);
            } else if p.extension().is_some_and(|e| e == "rs") {
                let rel = p
                    .strip_prefix(root)
                    .unwrap()
                    .to_string_lossy()
                    .replace('\\', "/");
                out.push((rel, std::fs::read_to_string(&p).unwrap()));
            }
        }
    }
    let mut out = Vec::new();
    walk(src, src, &mut out);
    out
}

fn show(cycles: &[Vec<String>], g: &Graph) -> String {
    cycles
        .iter()
        .map(|c| {
            let inner: Vec<String> = c
                .iter()
                .flat_map(|m| {
                    g.edges[m]
                        .iter()
                        .filter(|t| c.contains(t))
                        .map(move |t| format!("{m} -> {t}"))
                })
                .collect();
            format!("  cycle of {} modules: {}", c.len(), inner.join(", "))
        })
        .collect::<Vec<_>>()
        .join("\n")
}

#[test]
fn the_core_has_no_cycle_and_no_upward_import() {
    let files = read_crate(&Path::new(env!("CARGO_MANIFEST_DIR")).join("src"));
    let g = graph(&files);
    let c = cycles(&g);
    assert!(
        c.is_empty(),
        "crates/core/src has import cycles:\n{}",
        show(&c, &g)
    );
    let up = upward(&g, core_layer);
    assert!(
        up.is_empty(),
        "crates/core/src imports a higher layer:\n  {}",
        up.join("\n  ")
    );
    // The pipeline passes what one stage returns to the next: a stage never imports another.
    // A stage may be a folder (`stages::evaluate::ask`…) whose files import each other.
    let stage = |m: &str| m.split("::").take(2).collect::<Vec<_>>().join("::");
    let across: Vec<String> = g
        .edges
        .iter()
        .filter(|(from, _)| from.starts_with("stages::"))
        .flat_map(|(from, tos)| {
            tos.iter()
                .filter(|to| to.starts_with("stages::") && stage(to) != stage(from))
                .map(move |to| format!("{from} -> {to}"))
        })
        .collect();
    assert!(across.is_empty(), "a stage imports another: {across:?}");
}

/// The binding's root (`lib.rs`) is napi's entry point: it re-exports every module's
/// `#[napi]` items and holds the helpers every module uses (`settle`), so it is left out; any
/// other cycle fails.
#[test]
fn the_binding_has_no_cycle() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../src");
    let mut g = graph(&read_crate(&src));
    g.edges.remove("crate");
    for tos in g.edges.values_mut() {
        tos.remove("crate");
    }
    let c = cycles(&g);
    assert!(c.is_empty(), "src/ has import cycles:\n{}", show(&c, &g));
}

// The checker itself, on small crates.

fn fake(files: &[(&str, &str)]) -> Graph {
    let owned: Vec<(String, String)> = files
        .iter()
        .map(|(p, s)| (p.to_string(), s.to_string()))
        .collect();
    graph(&owned)
}

#[test]
fn finds_a_cycle_through_groups_and_super() {
    let g = fake(&[
        ("lib.rs", "pub mod a;\npub mod b;\npub mod c;"),
        ("a.rs", "use crate::{b::{self, X}, c};"),
        ("b/mod.rs", "pub mod inner;"),
        ("b/inner.rs", "pub fn f() { super::super::c::g(); }"),
        ("c.rs", "fn g() { let _ = crate::a::Y; }"),
    ]);
    assert_eq!(g.edges["a"], BTreeSet::from(["b".into(), "c".into()]));
    assert_eq!(g.edges["b::inner"], BTreeSet::from(["c".into()]));
    assert_eq!(cycles(&g), vec![vec!["a".to_string(), "c".into()]]);
}

#[test]
fn comments_strings_and_test_modules_make_no_edge() {
    let g = fake(&[
        ("lib.rs", "pub mod a;\npub mod b;"),
        (
            "a.rs",
            r##"
            //! See [`crate::b::X`].
            /* crate::b::Y */
            fn f<'a>(x: &'a str) -> char { let _ = "crate::b::Z"; let _ = r#"crate::b"#; '"' }
            #[cfg(test)]
            mod tests {
                use super::*;
                fn t() { let _ = super::f; }
            }
            "##,
        ),
        ("b.rs", "use crate::a::f;"),
    ]);
    assert!(g.edges["a"].is_empty(), "{:?}", g.edges["a"]);
    assert!(cycles(&g).is_empty());
}

#[test]
fn the_root_and_macros_are_modules_too() {
    let g = fake(&[
        (
            "lib.rs",
            "pub mod types;\npub use types::X;\npub fn helper() {}",
        ),
        ("types.rs", "pub struct X; fn f() { $crate::helper(); }"),
    ]);
    assert_eq!(g.edges["crate"], BTreeSet::from(["types".into()]));
    assert_eq!(cycles(&g), vec![vec!["crate".to_string(), "types".into()]]);
}

#[test]
fn finds_upward_imports() {
    let g = fake(&[
        ("lib.rs", "pub mod types;\npub mod infra;"),
        ("types/mod.rs", "pub mod api;"),
        ("types/api.rs", "use crate::infra::client::Client;"),
        ("infra/mod.rs", "pub mod client;"),
        ("infra/client.rs", "use crate::types::api::Job;"),
    ]);
    assert_eq!(
        upward(&g, core_layer),
        vec!["types::api -> infra::client".to_string()]
    );
    assert_eq!(cycles(&g).len(), 1);
}
