//! The mutation engine: structure-aware mutators for TOML, JSON and
//! line/field text, plus byte-level ones for parser robustness.
//!
//! Every mutator is deterministic for a given [`fastrand::Rng`] state, so a
//! run is reproduced by its seed.

use fastrand::Rng;

/// How an input is shaped, which decides the structure-aware mutator.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Shape {
    /// A host.toml.
    Toml,
    /// A tool's JSON (sfdisk, cryptsetup).
    Json,
    /// Line-oriented text whose fields are separated by spaces (mountinfo,
    /// blkid, btrfs).
    Lines,
}

/// Strings that have broken parsers and renderers before: control and
/// non-characters, quotes of every format tabula writes, shell and Nix
/// metacharacters, XML specials, path tricks.
pub const HOSTILE: &[&str] = &[
    "\0",
    "\u{2028}",
    "\u{2029}",
    "\u{FFFE}",
    "\u{FFFF}",
    "\u{FEFF}",
    "\u{202E}",
    "\u{85}",
    "\u{1b}[31m",
    "\u{7f}",
    "\r",
    "\n",
    "\r\n",
    "\t",
    " ",
    "\"",
    "'",
    "\\",
    "\\\"",
    "`",
    "$",
    "${x}",
    "$(id)",
    "`id`",
    "''",
    "''$",
    "''\\",
    "${",
    "}",
    ";",
    "|",
    "&",
    "&&{touch,/tmp/PWNED}",
    "; touch /tmp/PWNED #",
    "\n[section]\nkey=value",
    "*/",
    "/*",
    "#",
    "=",
    ",",
    ":",
    "%",
    "%s%n",
    "@",
    "<",
    ">",
    "]]>",
    "<!--",
    "&amp;",
    "..",
    "../../etc/passwd",
    "/",
    "//",
    "-",
    "--",
    "-rf",
    "~",
    "*",
    "?",
    "[",
    "]",
    "{",
    "e\u{301}",
    "\u{1F600}",
    "\u{10FFFF}",
    "\u{0}\u{0}",
    "\\u0000",
    "\\040",
    "mode=\"755,size=1M",
    "x-systemd.automount",
    "subvol=@x",
    "@system/nix",
    "@user/home",
    "root",
    "nixos",
    "null",
    "true",
    "0",
];

/// Numbers at the edges of the types the code uses.
pub const NUMBERS: &[i64] = &[
    0,
    1,
    -1,
    2,
    7,
    8,
    127,
    128,
    255,
    256,
    511,
    512,
    4095,
    4096,
    65535,
    65536,
    2_147_483_647,
    -2_147_483_648,
    4_294_967_295,
    4_294_967_296,
    i64::MAX,
    i64::MIN,
    i64::MAX - 1,
    1_000_000_000_000,
];

/// Sizes: the forms the size parser accepts and the ones it must refuse.
pub const SIZES: &[&str] = &[
    "2 gb",
    "2Gb",
    "2KB",
    "2kb",
    "99999999999999999999G",
    "99999999999999999999999G",
    "18446744073709551615",
    "18446744073709551616",
    "18446744073709551615B",
    "16E",
    "16EiB",
    "17179869184G",
    "0",
    "0B",
    "0G",
    "1",
    "1B",
    "-1G",
    "1.5G",
    "1e3G",
    "0x10G",
    "1 G",
    " 1G",
    "1G ",
    "1GiB",
    "1TiB",
    "1TB",
    "512MiB",
    "100%",
    "rest",
    "",
    "G",
    "\u{ff11}G",
    "1G\0",
    "1PiB",
    "9223372036854775807",
    "4294967296K",
];

/// Pick one element.
pub fn pick<'a, T>(rng: &mut Rng, items: &'a [T]) -> &'a T {
    &items[rng.usize(..items.len())]
}

/// A hostile string: a listed one, a long run, or random code points.
pub fn hostile_string(rng: &mut Rng) -> String {
    match rng.u8(..40) {
        0 => {
            // Huge: past 65535 columns, past u16 offsets.
            let n = *pick(rng, &[256usize, 4097, 65_536, 70_000]);
            let c = *pick(rng, &['a', '"', '\\', '\u{2028}', '$', 'é']);
            std::iter::repeat_n(c, n).collect()
        }
        1..=4 => (0..rng.usize(1..8))
            .map(|_| {
                // Any scalar value, including controls and non-characters.
                loop {
                    if let Some(c) = char::from_u32(rng.u32(..0x11_0000)) {
                        break c;
                    }
                }
            })
            .collect(),
        5..=12 => (0..rng.usize(1..4))
            .map(|_| *pick(rng, HOSTILE))
            .collect::<String>(),
        _ => (*pick(rng, HOSTILE)).to_owned(),
    }
}

/// Put a hostile piece into `s`: replace it, prefix, suffix or insert.
pub fn taint(rng: &mut Rng, s: &str) -> String {
    let h = hostile_string(rng);
    match rng.u8(..4) {
        0 => h,
        1 => format!("{h}{s}"),
        2 => format!("{s}{h}"),
        _ => {
            let mut at = rng.usize(..=s.len());
            while !s.is_char_boundary(at) {
                at -= 1;
            }
            format!("{}{h}{}", &s[..at], &s[at..])
        }
    }
}

// ---------------------------------------------------------------------------
// Byte level

/// Tokens the byte mutator inserts (TOML, JSON and mountinfo syntax).
const TOKENS: &[&[u8]] = &[
    b"[[",
    b"]]",
    b"[",
    b"]",
    b"{",
    b"}",
    b"=",
    b"\"",
    b"\"\"\"",
    b"'''",
    b"\\",
    b"\\u0000",
    b"\\uD800",
    b"\\U0010FFFF",
    b"\n",
    b"\r",
    b"#",
    b",",
    b".",
    b":",
    b" - ",
    b"\\400",
    b"\\777",
    b"\\4",
    b"\xff",
    b"\xc3",
    b"\xef\xbf\xbe",
    b"\xe2\x80\xa8",
    b"\0",
    b"99999999999999999999",
    b"-9223372036854775809",
    b"1e999",
    b"null",
    b"inf",
    b"nan",
];

/// One byte-level mutation.
pub fn bytes(rng: &mut Rng, data: &mut Vec<u8>, other: &[u8]) {
    let len = data.len();
    match rng.u8(..9) {
        0 if len > 0 => {
            let i = rng.usize(..len);
            data[i] ^= 1 << rng.u8(..8);
        }
        1 if len > 0 => {
            let i = rng.usize(..len);
            data[i] = rng.u8(..);
        }
        2 if len > 0 => {
            let a = rng.usize(..len);
            let b = (a + rng.usize(1..=16.min(len - a))).min(len);
            data.drain(a..b);
        }
        3 if len > 0 => {
            let a = rng.usize(..len);
            let b = (a + rng.usize(1..=64.min(len - a))).min(len);
            let piece = data[a..b].to_vec();
            let at = rng.usize(..=len);
            data.splice(at..at, piece);
        }
        4 => {
            let t = *pick(rng, TOKENS);
            let at = rng.usize(..=len);
            data.splice(at..at, t.iter().copied());
        }
        5 if len > 0 => data.truncate(rng.usize(..len)),
        6 if !other.is_empty() => {
            // Splice a piece of another input.
            let a = rng.usize(..other.len());
            let b = (a + rng.usize(1..=256.min(other.len() - a))).min(other.len());
            let at = rng.usize(..=len);
            data.splice(at..at, other[a..b].iter().copied());
        }
        7 if len > 0 => {
            // A digit run becomes a boundary number.
            let i = rng.usize(..len);
            if let Some(s) = data[i..].iter().position(u8::is_ascii_digit) {
                let s = i + s;
                let e = data[s..]
                    .iter()
                    .position(|c| !c.is_ascii_digit())
                    .map_or(data.len(), |e| s + e);
                let n = pick(rng, NUMBERS).to_string();
                data.splice(s..e, n.bytes());
            }
        }
        _ => {
            let h = hostile_string(rng);
            let at = rng.usize(..=len);
            data.splice(at..at, h.bytes());
        }
    }
}

// ---------------------------------------------------------------------------
// TOML: a plain tree, mutated, written back with toml_edit

/// A TOML value as a plain tree (order kept).
#[derive(Debug, Clone, PartialEq)]
pub enum Node {
    Str(String),
    Int(i64),
    Float(f64),
    Bool(bool),
    /// A datetime, kept as written.
    Date(String),
    Arr(Vec<Node>),
    Tab(Vec<(String, Node)>),
    /// An array of tables (`[[partition]]`).
    Aot(Vec<Vec<(String, Node)>>),
}

impl Node {
    fn from_value(v: &toml_edit::Value) -> Node {
        use toml_edit::Value as V;
        match v {
            V::String(s) => Node::Str(s.value().clone()),
            V::Integer(i) => Node::Int(*i.value()),
            V::Float(f) => Node::Float(*f.value()),
            V::Boolean(b) => Node::Bool(*b.value()),
            V::Datetime(d) => Node::Date(d.value().to_string()),
            V::Array(a) => Node::Arr(a.iter().map(Node::from_value).collect()),
            V::InlineTable(t) => Node::Tab(
                t.iter()
                    .map(|(k, v)| (k.to_owned(), Node::from_value(v)))
                    .collect(),
            ),
        }
    }

    fn from_item(i: &toml_edit::Item) -> Option<Node> {
        use toml_edit::Item as I;
        match i {
            I::None => None,
            I::Value(v) => Some(Node::from_value(v)),
            I::Table(t) => Some(Node::Tab(table_entries(t))),
            I::ArrayOfTables(a) => Some(Node::Aot(a.iter().map(table_entries).collect())),
        }
    }

    fn to_value(&self) -> toml_edit::Value {
        use toml_edit::Value as V;
        match self {
            Node::Str(s) => V::from(break_quote_runs(s)),
            Node::Int(i) => V::from(*i),
            Node::Float(f) => V::from(*f),
            Node::Bool(b) => V::from(*b),
            Node::Date(d) => d
                .parse::<toml_edit::Datetime>()
                .map_or_else(|_| V::from(d.as_str()), V::from),
            Node::Arr(a) => V::Array(a.iter().map(Node::to_value).collect()),
            Node::Tab(t) => V::InlineTable(inline(t)),
            Node::Aot(a) => V::Array(a.iter().map(|t| V::InlineTable(inline(t))).collect()),
        }
    }

    fn to_item(&self) -> toml_edit::Item {
        match self {
            Node::Tab(t) => toml_edit::Item::Table(table(t)),
            Node::Aot(a) => {
                let mut out = toml_edit::ArrayOfTables::new();
                for t in a {
                    out.push(table(t));
                }
                toml_edit::Item::ArrayOfTables(out)
            }
            v => toml_edit::Item::Value(v.to_value()),
        }
    }

    fn kind(&self) -> u8 {
        match self {
            Node::Str(_) => 0,
            Node::Int(_) => 1,
            Node::Float(_) => 2,
            Node::Bool(_) => 3,
            Node::Date(_) => 4,
            Node::Arr(_) => 5,
            Node::Tab(_) => 6,
            Node::Aot(_) => 7,
        }
    }
}

/// toml_write 0.1 counts a run of quotes in a `u8` and overflows past 255
/// (a panic in debug builds; a wrong quoting choice in release): keep runs
/// shorter so the fuzzer's own writer stays sound. Long runs of other
/// characters still reach the parser.
fn break_quote_runs(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut run = 0;
    let mut last = ' ';
    for c in s.chars() {
        if (c == '"' || c == '\'') && c == last {
            run += 1;
        } else {
            run = 0;
        }
        if run >= 200 {
            out.push(' ');
            run = 0;
        }
        out.push(c);
        last = c;
    }
    out
}

fn table_entries(t: &toml_edit::Table) -> Vec<(String, Node)> {
    t.iter()
        .filter_map(|(k, i)| Some((k.to_owned(), Node::from_item(i)?)))
        .collect()
}

fn inline(t: &[(String, Node)]) -> toml_edit::InlineTable {
    let mut out = toml_edit::InlineTable::new();
    for (k, v) in t {
        out.insert(k, v.to_value());
    }
    out
}

fn table(t: &[(String, Node)]) -> toml_edit::Table {
    let mut out = toml_edit::Table::new();
    for (k, v) in t {
        out.insert(k, v.to_item());
    }
    out
}

/// Parse TOML text into the tree (None when it is not TOML).
pub fn parse_toml(text: &str) -> Option<Vec<(String, Node)>> {
    let doc = text.parse::<toml_edit::DocumentMut>().ok()?;
    Some(table_entries(doc.as_table()))
}

/// Write the tree as TOML.
pub fn write_toml(top: &[(String, Node)]) -> String {
    let mut doc = toml_edit::DocumentMut::new();
    for (k, v) in top {
        doc.insert(k, v.to_item());
    }
    doc.to_string()
}

/// The number of nodes of the tree.
fn count_nodes(n: &Node) -> usize {
    1 + match n {
        Node::Arr(a) => a.iter().map(count_nodes).sum(),
        Node::Tab(t) => t.iter().map(|(_, c)| count_nodes(c)).sum(),
        Node::Aot(a) => a
            .iter()
            .flat_map(|t| t.iter().map(|(_, c)| count_nodes(c)))
            .sum(),
        _ => 0,
    }
}

/// The n-th node in depth-first order.
fn nth_mut(root: &mut Node, n: usize) -> Option<&mut Node> {
    fn walk<'a>(node: &'a mut Node, n: &mut usize) -> Option<&'a mut Node> {
        if *n == 0 {
            return Some(node);
        }
        *n -= 1;
        match node {
            Node::Arr(a) => {
                for c in a {
                    if let Some(x) = walk(c, n) {
                        return Some(x);
                    }
                }
            }
            Node::Tab(t) => {
                for (_, c) in t {
                    if let Some(x) = walk(c, n) {
                        return Some(x);
                    }
                }
            }
            Node::Aot(a) => {
                for t in a {
                    for (_, c) in t {
                        if let Some(x) = walk(c, n) {
                            return Some(x);
                        }
                    }
                }
            }
            _ => {}
        }
        None
    }
    let mut n = n;
    walk(root, &mut n)
}

fn count(root: &mut Node) -> usize {
    count_nodes(root)
}

/// Clone of the n-th node.
fn nth(root: &mut Node, n: usize) -> Option<Node> {
    nth_mut(root, n).map(|x| x.clone())
}

/// Strings found in the tree (to cross-reference: a mount source naming
/// another partition, a user named like another).
fn strings(root: &mut Node) -> Vec<String> {
    fn walk(n: &Node, out: &mut Vec<String>) {
        match n {
            Node::Str(s) => out.push(s.clone()),
            Node::Arr(a) => a.iter().for_each(|c| walk(c, out)),
            Node::Tab(t) => t.iter().for_each(|(_, c)| walk(c, out)),
            Node::Aot(a) => a
                .iter()
                .for_each(|t| t.iter().for_each(|(_, c)| walk(c, out))),
            _ => {}
        }
    }
    let mut out = Vec::new();
    walk(root, &mut out);
    out
}

/// Keys found in the tree (to insert known keys elsewhere).
pub fn keys(top: &[(String, Node)], out: &mut Vec<String>) {
    for (k, v) in top {
        if !out.contains(k) {
            out.push(k.clone());
        }
        match v {
            Node::Tab(t) => keys(t, out),
            Node::Aot(a) => a.iter().for_each(|t| keys(t, out)),
            Node::Arr(a) => a.iter().for_each(|n| {
                if let Node::Tab(t) = n {
                    keys(t, out);
                }
            }),
            _ => {}
        }
    }
}

/// A random value of any type, seeded from `donor`.
fn random_node(rng: &mut Rng, donor: Option<Node>) -> Node {
    match rng.u8(..8) {
        0 => Node::Str(hostile_string(rng)),
        1 => Node::Int(*pick(rng, NUMBERS)),
        2 => Node::Bool(rng.bool()),
        3 => Node::Float(*pick(
            rng,
            &[0.0, -0.0, 1.5, 1e308, f64::INFINITY, f64::NAN],
        )),
        4 => Node::Arr(vec![]),
        5 => Node::Tab(vec![]),
        6 => Node::Str((*pick(rng, SIZES)).to_owned()),
        _ => donor.unwrap_or(Node::Str(String::new())),
    }
}

/// One structure-aware mutation of a TOML tree. `dict` holds keys and
/// string values seen in every seed.
pub fn toml_tree(rng: &mut Rng, top: &mut Vec<(String, Node)>, dict: &Dict) {
    let mut root = Node::Tab(std::mem::take(top));
    let total = count(&mut root);
    let target = rng.usize(..total.max(1));
    let donor_i = rng.usize(..total.max(1));
    let donor = nth(&mut root, donor_i);
    let strs = if rng.u8(..4) == 0 {
        strings(&mut root)
    } else {
        Vec::new()
    };
    let op = rng.u8(..14);
    if let Some(node) = nth_mut(&mut root, target) {
        match (op, node) {
            // Strings: hostile content, sizes, another string of the spec.
            (0..=3, Node::Str(s)) => *s = taint(rng, s),
            (4, Node::Str(s)) => *s = (*pick(rng, SIZES)).to_owned(),
            (5, Node::Str(s)) if !strs.is_empty() => *s = pick(rng, &strs).clone(),
            (5, Node::Str(s)) if !dict.values.is_empty() => *s = pick(rng, &dict.values).clone(),
            (6, Node::Str(s)) => {
                // Small edits that keep it plausible: one char dropped or
                // doubled, case changed.
                let mut c: Vec<char> = s.chars().collect();
                if !c.is_empty() {
                    let i = rng.usize(..c.len());
                    match rng.u8(..3) {
                        0 => {
                            c.remove(i);
                        }
                        1 => c.insert(i, c[i]),
                        _ => c[i] = c[i].to_ascii_uppercase(),
                    }
                }
                *s = c.into_iter().collect();
            }
            (0..=3, Node::Int(i)) => *i = *pick(rng, NUMBERS),
            (4..=6, Node::Int(i)) => *i = i.wrapping_add(rng.i64(-2..=2)),
            (0..=6, Node::Bool(b)) => *b = !*b,
            // Arrays: duplicate, remove, reorder, add.
            (7 | 8, Node::Arr(a)) if !a.is_empty() => {
                let i = rng.usize(..a.len());
                let dup = a[i].clone();
                a.insert(rng.usize(..=a.len()), dup);
            }
            (7 | 8, Node::Aot(a)) if !a.is_empty() => {
                let i = rng.usize(..a.len());
                let dup = a[i].clone();
                a.insert(rng.usize(..=a.len()), dup);
            }
            (9, Node::Arr(a)) if !a.is_empty() => {
                a.remove(rng.usize(..a.len()));
            }
            (9, Node::Aot(a)) if !a.is_empty() => {
                a.remove(rng.usize(..a.len()));
            }
            (10, Node::Arr(a)) if a.len() > 1 => {
                let (i, j) = (rng.usize(..a.len()), rng.usize(..a.len()));
                a.swap(i, j);
            }
            (10, Node::Aot(a)) if a.len() > 1 => {
                let (i, j) = (rng.usize(..a.len()), rng.usize(..a.len()));
                a.swap(i, j);
            }
            (7..=10, Node::Arr(a)) => a.push(random_node(rng, donor)),
            // Tables: remove a key, add a known key, rename a key.
            (7..=9, Node::Tab(t)) if !t.is_empty() => {
                t.remove(rng.usize(..t.len()));
            }
            (10, Node::Tab(t)) => {
                let k = if dict.keys.is_empty() || rng.u8(..8) == 0 {
                    hostile_string(rng)
                } else {
                    pick(rng, &dict.keys).clone()
                };
                if !t.iter().any(|(x, _)| *x == k) {
                    t.push((k, random_node(rng, donor)));
                }
            }
            (11, Node::Tab(t)) if !t.is_empty() && !dict.keys.is_empty() => {
                let k = pick(rng, &dict.keys).clone();
                let i = rng.usize(..t.len());
                if !t.iter().any(|(x, _)| *x == k) {
                    t[i].0 = k;
                }
            }
            (11, Node::Aot(a)) if !a.is_empty() => {
                // Table of an array gets a key from a sibling.
                let i = rng.usize(..a.len());
                let j = rng.usize(..a.len());
                if let Some(kv) = a[j].first().cloned() {
                    let pos = a[i].iter().position(|(k, _)| *k == kv.0);
                    match pos {
                        Some(p) => a[i][p] = kv,
                        None => a[i].push(kv),
                    }
                }
            }
            // Swap types / copy another node here.
            (12, n) => {
                if let Some(d) = donor {
                    if !matches!(n, Node::Tab(_) | Node::Aot(_)) || rng.u8(..4) == 0 {
                        *n = d;
                    }
                }
            }
            (13, n) if !matches!(n, Node::Tab(_) | Node::Aot(_)) => {
                let mut r = random_node(rng, None);
                if r.kind() == n.kind() {
                    r = Node::Str(hostile_string(rng));
                }
                *n = r;
            }
            (_, Node::Str(s)) => *s = taint(rng, s),
            _ => {}
        }
    }
    if let Node::Tab(t) = root {
        *top = t;
    }
}

/// Keys and string values seen in the seeds.
#[derive(Debug, Default, Clone)]
pub struct Dict {
    pub keys: Vec<String>,
    pub values: Vec<String>,
}

impl Dict {
    /// Collect from TOML seeds.
    pub fn from_toml_seeds<'a>(seeds: impl IntoIterator<Item = &'a str>) -> Dict {
        let mut d = Dict::default();
        for s in seeds {
            if let Some(top) = parse_toml(s) {
                keys(&top, &mut d.keys);
                let mut root = Node::Tab(top);
                for v in strings(&mut root) {
                    if !d.values.contains(&v) {
                        d.values.push(v);
                    }
                }
            }
        }
        d
    }
}

// ---------------------------------------------------------------------------
// JSON

/// A marker replaced, after serialising, by a number JSON parsers of u64 and
/// i64 cannot hold.
const BIG: &str = "\u{1}BIGNUM\u{1}";

fn json_nodes(v: &serde_json::Value) -> usize {
    1 + match v {
        serde_json::Value::Array(a) => a.iter().map(json_nodes).sum(),
        serde_json::Value::Object(o) => o.values().map(json_nodes).sum(),
        _ => 0,
    }
}

fn json_nth_mut(v: &mut serde_json::Value, n: usize) -> Option<&mut serde_json::Value> {
    fn walk<'a>(v: &'a mut serde_json::Value, n: &mut usize) -> Option<&'a mut serde_json::Value> {
        if *n == 0 {
            return Some(v);
        }
        *n -= 1;
        match v {
            serde_json::Value::Array(a) => a.iter_mut().find_map(|c| walk(c, n)),
            serde_json::Value::Object(o) => o.values_mut().find_map(|c| walk(c, n)),
            _ => None,
        }
    }
    let mut n = n;
    walk(v, &mut n)
}

/// One structure-aware mutation of a JSON document.
pub fn json(rng: &mut Rng, v: &mut serde_json::Value) {
    use serde_json::Value as J;
    let total = json_nodes(v);
    let donor = json_nth_mut(v, rng.usize(..total)).map(|d| d.clone());
    let Some(node) = json_nth_mut(v, rng.usize(..total)) else {
        return;
    };
    match (rng.u8(..10), node) {
        (0..=2, J::String(s)) => *s = taint(rng, s),
        (3, J::String(s)) => {
            *s = (*pick(
                rng,
                &[
                    "/dev/loopX",
                    "/dev/loopXp",
                    "/dev/loopXp99999999999",
                    "/dev/loopXp4294967296",
                    "p0",
                    "",
                    "gpt",
                    "dos",
                    "C12A7328-F81F-11D2-BA4B-00A0C93EC93B",
                    "pbkdf2",
                    "argon2id",
                ],
            ))
            .to_owned()
        }
        (0..=3, J::Number(n)) => {
            *n = match rng.u8(..4) {
                0 => serde_json::Number::from(u64::MAX),
                1 => serde_json::Number::from(*pick(rng, NUMBERS)),
                2 => serde_json::Number::from_f64(*pick(rng, &[1.5, -0.5, 1e300]))
                    .unwrap_or_else(|| serde_json::Number::from(0)),
                _ => serde_json::Number::from(u64::MAX / 512 + 1),
            }
        }
        (4, n @ J::Number(_)) => *n = J::String(BIG.to_owned()),
        (5, J::Array(a)) if !a.is_empty() => {
            let i = rng.usize(..a.len());
            let d = a[i].clone();
            a.insert(rng.usize(..=a.len()), d);
        }
        (5, J::Object(o)) if !o.is_empty() => {
            let i = rng.usize(..o.len());
            if let Some(k) = o.keys().nth(i).cloned() {
                o.remove(&k);
            }
        }
        (6, J::Array(a)) if !a.is_empty() => {
            a.remove(rng.usize(..a.len()));
        }
        (6, J::Object(o)) => {
            let k = (*pick(
                rng,
                &[
                    "node",
                    "start",
                    "size",
                    "type",
                    "uuid",
                    "name",
                    "sectorsize",
                    "label",
                    "kdf",
                    "iterations",
                    "keyslots",
                    "99",
                    "-1",
                    "4294967296",
                ],
            ))
            .to_owned();
            o.insert(k, donor.unwrap_or(J::Null));
        }
        (7, J::Object(o)) if !o.is_empty() => {
            // A key slot id / key renamed.
            let i = rng.usize(..o.len());
            if let Some(k) = o.keys().nth(i).cloned() {
                if let Some(val) = o.remove(&k) {
                    o.insert(taint(rng, &k), val);
                }
            }
        }
        (8, n) => {
            *n = match rng.u8(..6) {
                0 => J::Null,
                1 => J::Bool(true),
                2 => J::String(hostile_string(rng)),
                3 => J::Array(vec![]),
                4 => J::Object(serde_json::Map::new()),
                _ => J::from(*pick(rng, NUMBERS)),
            }
        }
        (_, n) => {
            if let Some(d) = donor {
                *n = d;
            }
        }
    }
}

/// Serialise a mutated JSON document (with its big numbers).
pub fn write_json(rng: &mut Rng, v: &serde_json::Value) -> Vec<u8> {
    let text = if rng.bool() {
        serde_json::to_string_pretty(v)
    } else {
        serde_json::to_string(v)
    }
    .unwrap_or_default();
    let quoted = serde_json::to_string(BIG).unwrap_or_default();
    text.replace(&quoted, "99999999999999999999999")
        .into_bytes()
}

// ---------------------------------------------------------------------------
// Lines and fields

/// Fields the line mutator puts in: escapes, separators, numbers, the
/// words the parsers look for.
const FIELDS: &[&str] = &[
    "-",
    "",
    "\\",
    "\\4",
    "\\40",
    "\\400",
    "\\477",
    "\\777",
    "\\377",
    "\\040",
    "\\134",
    "\\012",
    "\\000",
    "\\08",
    "\\+12",
    "\\-1",
    "\\x41",
    "0:0",
    "4294967295:4294967295",
    "4294967296:0",
    "-1:-1",
    ":",
    "18446744073709551615",
    "18446744073709551616",
    "shared:1",
    "master:1",
    "propagate_from:1",
    "unbindable",
    "key",
    "(FS_TREE",
    "ROOT_REF",
    "ROOT_ITEM",
    "18446744073709551615)",
    "key (FS_TREE ROOT_REF 256)",
    "key (256 ROOT_REF 257)",
    "key (257 ROOT_REF 256)",
    "name",
    " name ",
    "TYPE=crypto_LUKS",
    "USAGE=filesystem",
    "VERSION=2",
    "VERSION=99999999999",
    "TYPE=",
    "=",
    "==",
    "ID",
    "path",
    "<FS_TREE>/",
    "0/5",
    "0/18446744073709551615",
    "Free (estimated):",
    "top level",
    "gen",
];

/// One structure-aware mutation of line/field text.
pub fn lines(rng: &mut Rng, text: &str, other: &str) -> String {
    let mut ls: Vec<String> = text.split('\n').map(str::to_owned).collect();
    let ol: Vec<&str> = other.split('\n').collect();
    let n = ls.len();
    match rng.u8(..9) {
        0 if n > 0 => {
            let i = rng.usize(..n);
            let d = ls[i].clone();
            ls.insert(rng.usize(..=n), d);
        }
        1 if n > 1 => {
            ls.remove(rng.usize(..n));
        }
        2 if n > 1 => {
            let (i, j) = (rng.usize(..n), rng.usize(..n));
            ls.swap(i, j);
        }
        3 if !ol.is_empty() => {
            let l = pick(rng, &ol).to_string();
            ls.insert(rng.usize(..=n), l);
        }
        4 if n > 0 => {
            // Join with the next line or split in two.
            let i = rng.usize(..n);
            if rng.bool() && i + 1 < n {
                let next = ls.remove(i + 1);
                ls[i].push_str(&next);
            } else {
                let l = ls[i].clone();
                let mut at = rng.usize(..=l.len());
                while !l.is_char_boundary(at) {
                    at -= 1;
                }
                ls[i] = l[..at].to_owned();
                ls.insert(i + 1, l[at..].to_owned());
            }
        }
        _ if n > 0 => {
            // One field of one line.
            let i = rng.usize(..n);
            let sep = if ls[i].contains('=') && !ls[i].contains(' ') {
                '='
            } else {
                ' '
            };
            let mut f: Vec<String> = ls[i].split(sep).map(str::to_owned).collect();
            let j = rng.usize(..f.len());
            match rng.u8(..6) {
                0 => f[j] = (*pick(rng, FIELDS)).to_owned(),
                1 => {
                    let x = (*pick(rng, FIELDS)).to_owned();
                    f.insert(j, x);
                }
                2 if f.len() > 1 => {
                    f.remove(j);
                }
                3 => {
                    // Numbers at the boundaries.
                    let n = pick(rng, NUMBERS).to_string();
                    f[j] = if rng.bool() {
                        n
                    } else {
                        "99999999999999999999".to_owned()
                    };
                }
                4 => {
                    let fld = f[j].clone();
                    f[j] = format!("{fld}{}", pick(rng, FIELDS));
                }
                _ => {
                    let fld = f[j].clone();
                    f[j] = taint(rng, &fld);
                }
            }
            ls[i] = f.join(&sep.to_string());
        }
        _ => ls.push(hostile_string(rng)),
    }
    ls.join("\n")
}

// ---------------------------------------------------------------------------

/// Apply 1 to 4 stacked mutations to `data`, structure-aware when its shape
/// parses, byte-level otherwise (and now and then on purpose).
pub fn mutate(rng: &mut Rng, data: &[u8], shape: Shape, other: &[u8], dict: &Dict) -> Vec<u8> {
    let mut out = data.to_vec();
    // Specs: one or two changes, so that check still accepts some and
    // render runs; tool output: up to four.
    let rounds = 1 + match shape {
        Shape::Toml => rng.usize(..2),
        _ => rng.usize(..4),
    };
    for _ in 0..rounds {
        if rng.u8(..10) < 2 {
            bytes(rng, &mut out, other);
            continue;
        }
        let text = String::from_utf8_lossy(&out).into_owned();
        match shape {
            Shape::Toml => match parse_toml(&text) {
                Some(mut top) => {
                    toml_tree(rng, &mut top, dict);
                    out = write_toml(&top).into_bytes();
                }
                None => bytes(rng, &mut out, other),
            },
            Shape::Json => match serde_json::from_str::<serde_json::Value>(&text) {
                Ok(mut v) => {
                    json(rng, &mut v);
                    out = write_json(rng, &v);
                }
                Err(_) => bytes(rng, &mut out, other),
            },
            Shape::Lines => {
                out = lines(rng, &text, &String::from_utf8_lossy(other)).into_bytes();
            }
        }
    }
    // Keep inputs bounded: a huge one only slows the run.
    out.truncate(1 << 20);
    out
}
