//! # The walk: parallel, relative to open directories, bounded memory
//!
//! Every system call is relative to an open directory (`openat`, `statx`,
//! `readlinkat` on a name), so depth is bounded by nothing but memory: a
//! 10,000-level tree is walked like any other. Symlinks are never followed
//! (`O_NOFOLLOW`, `AT_SYMLINK_NOFOLLOW`), and a directory on another
//! filesystem or mount (device or mount id differs from the root's) is
//! counted and not entered.
//!
//! ## Cost
//! `getdents64` gives each entry's type, so directories are opened without a
//! stat from the parent, and a path that a rule keeps (a persistent mount, a
//! persistence entry, an ignored path) is counted from its name alone and
//! never entered. Only what would be lost is stat-ed (its size and time are
//! the report), plus one `statx` per opened directory for the mount check.
//!
//! ## Parallelism
//! Worker threads share one LIFO stack of directories (depth first, so few
//! directories are open at once). A worker publishes the subdirectories it
//! found and takes the next directory under one lock per directory: cheap
//! next to reading a directory, and a worker the scheduler stops on a busy
//! machine holds back nothing but the directory it is reading. A
//! directory's handle is shared by its pending children (`Arc<OwnedFd>`)
//! and closes when the last of them has opened itself.
//!
//! ## Memory
//! Lost entries are aggregated bottom-up into one [`RawGroup`] per wholly
//! lost subtree (nothing kept below it), or per directory for the lost files
//! directly in a directory that also holds kept paths. A subtree is folded
//! into one summary as soon as it completes, so memory follows the number of
//! groups (the findings) and the directories in flight, not the tree size.

use std::ffi::CStr;
use std::mem::MaybeUninit;
use std::os::fd::OwnedFd;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};

use rustix::fs::{AtFlags, FileType, Mode, OFlags, RawDir, StatxFlags};
use rustix::io::Errno;
use serde::Serialize;

use crate::policy::{Class, PRef, Policy, Rule, F_BOUNDARY, F_NIXOS_ETC, NIXOS_ETC_TARGETS};

/// Tuning of one walk.
#[derive(Debug, Clone)]
pub struct WalkOptions {
    /// Worker threads (at least 1).
    pub jobs: usize,
    /// How many names of lost files a directory keeps while it is not yet
    /// known whether its whole subtree is lost (bounds memory on huge
    /// directories; beyond it a files group is marked truncated).
    pub names_cap: usize,
    /// At most this many problems are kept (the rest are only counted).
    pub problems_cap: usize,
    /// Live counts for a progress display (the CLI's spinner), updated
    /// after each directory.
    pub progress: Option<Arc<WalkProgress>>,
}

/// How far a running walk has come; read from another thread.
#[derive(Debug, Default)]
pub struct WalkProgress {
    pub directories: AtomicU64,
    /// Entries judged so far (directories included).
    pub entries: AtomicU64,
    pub lost: AtomicU64,
}

impl Default for WalkOptions {
    fn default() -> Self {
        WalkOptions {
            jobs: std::thread::available_parallelism().map_or(2, usize::from),
            names_cap: 4096,
            problems_cap: 1000,
            progress: None,
        }
    }
}

/// Count, bytes and newest modification time of lost entries.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Agg {
    pub count: u64,
    pub bytes: u64,
    /// Newest mtime as (seconds, nanoseconds) since the epoch.
    pub newest: Option<(i64, u32)>,
}

impl Agg {
    fn add(&mut self, bytes: u64, mtime: (i64, u32)) {
        self.count += 1;
        self.bytes += bytes;
        if self.newest.is_none_or(|n| mtime > n) {
            self.newest = Some(mtime);
        }
    }

    fn merge(&mut self, o: &Agg) {
        self.count += o.count;
        self.bytes += o.bytes;
        if let Some(m) = o.newest {
            if self.newest.is_none_or(|n| m > n) {
                self.newest = Some(m);
            }
        }
    }
}

/// How a group of lost entries is shaped.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum GroupKind {
    /// A directory whose whole subtree is lost.
    Tree,
    /// The lost files directly in a directory that also holds kept paths.
    Files,
}

/// One group of lost entries, as the walk found it.
#[derive(Debug, Clone)]
pub struct RawGroup {
    pub path: Vec<u8>,
    pub kind: GroupKind,
    pub agg: Agg,
    /// Directories in a tree group (itself included).
    pub dirs: u64,
    /// For a files group: the names of the lost files (see `truncated`).
    pub names: Vec<Vec<u8>>,
    pub truncated: bool,
}

/// What the walk counted, by class. Kept paths are counted where the walk
/// stopped (one for a whole persistent mount), not entry by entry.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Totals {
    pub lost: u64,
    pub lost_bytes: u64,
    pub directories: u64,
    pub persisted_by_mount: u64,
    pub persisted_by_entry: u64,
    pub ephemeral: u64,
    /// Sockets, fifos and device nodes: nothing to persist.
    pub special: u64,
    /// Mount points (or bind-mounted files) of another filesystem, not entered.
    pub other_filesystem: u64,
    /// Entries that disappeared between listing and stat.
    pub vanished: u64,
    /// Directories that could not be opened or read.
    pub unreadable: u64,
}

impl Totals {
    /// Entries judged (each directory, file, link, special file, mount
    /// point, vanished or unreadable entry once).
    fn entries(&self) -> u64 {
        self.lost
            + self.directories
            + self.persisted_by_mount
            + self.persisted_by_entry
            + self.ephemeral
            + self.special
            + self.other_filesystem
            + self.vanished
            + self.unreadable
    }

    fn merge(&mut self, o: &Totals) {
        self.lost += o.lost;
        self.lost_bytes += o.lost_bytes;
        self.directories += o.directories;
        self.persisted_by_mount += o.persisted_by_mount;
        self.persisted_by_entry += o.persisted_by_entry;
        self.ephemeral += o.ephemeral;
        self.special += o.special;
        self.other_filesystem += o.other_filesystem;
        self.vanished += o.vanished;
        self.unreadable += o.unreadable;
    }

    fn count(&mut self, class: Class) {
        match class {
            Class::PersistedByMount => self.persisted_by_mount += 1,
            Class::PersistedByEntry => self.persisted_by_entry += 1,
            Class::Ephemeral => self.ephemeral += 1,
        }
    }
}

/// A path the walk could not judge.
#[derive(Debug, Clone)]
pub struct Problem {
    pub path: Vec<u8>,
    pub message: String,
}

/// Everything one walk found.
#[derive(Debug, Clone, Default)]
pub struct WalkResult {
    pub groups: Vec<RawGroup>,
    pub totals: Totals,
    pub problems: Vec<Problem>,
    /// Problems beyond the cap, only counted.
    pub problems_dropped: u64,
    /// When a rule holds the walk's root itself (a persistent root).
    pub root_rule: Option<Rule>,
}

/// Errors that stop a walk before it starts.
#[derive(Debug, thiserror::Error)]
pub enum WalkError {
    #[error("reading the root directory {path}: {source}")]
    Root {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error("starting a walker thread: {0}")]
    Spawn(#[source] std::io::Error),
}

#[derive(Default)]
struct ChildSummary {
    name: Box<[u8]>,
    agg: Agg,
    dirs: u64,
}

#[derive(Default)]
struct NodeState {
    direct: Agg,
    names: Vec<Vec<u8>>,
    truncated: bool,
    /// Something below is kept, unreadable or another filesystem: this
    /// subtree is not wholly lost.
    kept: bool,
    lost_children: Vec<ChildSummary>,
}

struct Node {
    parent: Option<Arc<Node>>,
    name: Box<[u8]>,
    /// Own listing (1) plus children not yet complete.
    pending: AtomicUsize,
    boundary: bool,
    st: Mutex<NodeState>,
}

enum JobDir {
    Open(OwnedFd),
    At(Arc<OwnedFd>),
}

struct Job {
    dir: JobDir,
    node: Arc<Node>,
    pref: PRef,
}

/// What one directory's listing found.
#[derive(Default)]
struct Scan {
    /// The lost files directly inside.
    direct: Agg,
    names: Vec<Vec<u8>>,
    truncated: bool,
    /// Something inside is kept, unreadable or another filesystem.
    kept: bool,
    /// Subdirectories to walk, with their policy node.
    children: Vec<(Box<[u8]>, PRef)>,
}

struct Shared<'a> {
    policy: &'a Policy,
    base: &'a [u8],
    opts: &'a WalkOptions,
    root_dev: (u32, u32),
    root_mnt: Option<u64>,
    link_root: Option<Vec<u8>>,
    stack: Mutex<Vec<Job>>,
    cv: Condvar,
    idle: AtomicUsize,
    outstanding: AtomicUsize,
    groups: Mutex<Vec<RawGroup>>,
    problems: Mutex<(Vec<Problem>, u64)>,
    totals: Mutex<Totals>,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // A worker that panicked cannot have left the data half-written in a way
    // that matters more than losing the whole report: keep going.
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// Walk the directory `root` (already open), whose place in the audited
/// tree is `base` (`/` for the root, `/persist` for the orphan walk).
///
/// # Errors
/// [`WalkError`] when the root cannot be inspected or no thread starts;
/// everything below the root is reported in the result, never an error.
pub fn walk(
    root: OwnedFd,
    base: &[u8],
    policy: &Policy,
    opts: &WalkOptions,
) -> Result<WalkResult, WalkError> {
    let (pref, rule) = policy.start(base);
    if let Some(rule) = rule {
        return Ok(WalkResult {
            root_rule: Some(rule.clone()),
            ..WalkResult::default()
        });
    }
    let st = rustix::fs::statx(
        &root,
        c"",
        AtFlags::EMPTY_PATH,
        StatxFlags::TYPE | StatxFlags::MNT_ID,
    )
    .map_err(|e| WalkError::Root {
        path: String::from_utf8_lossy(base).into_owned(),
        source: e.into(),
    })?;
    raise_fd_limit();
    let shared = Shared {
        policy,
        base,
        opts,
        root_dev: (st.stx_dev_major, st.stx_dev_minor),
        root_mnt: (st.stx_mask & StatxFlags::MNT_ID.bits() != 0).then_some(st.stx_mnt_id),
        link_root: policy
            .persistence_root
            .as_ref()
            .map(|r| r.trim_end_matches('/').as_bytes().to_vec()),
        stack: Mutex::new(vec![Job {
            dir: JobDir::Open(root),
            node: Arc::new(Node {
                parent: None,
                name: Box::default(),
                pending: AtomicUsize::new(1),
                boundary: true,
                st: Mutex::default(),
            }),
            pref,
        }]),
        cv: Condvar::new(),
        idle: AtomicUsize::new(0),
        outstanding: AtomicUsize::new(1),
        groups: Mutex::default(),
        problems: Mutex::default(),
        totals: Mutex::default(),
    };
    let jobs = opts.jobs.max(1);
    std::thread::scope(|s| -> Result<(), WalkError> {
        let mut started = 0;
        for i in 0..jobs {
            let sh = &shared;
            let r = std::thread::Builder::new()
                .name(format!("audit-walk-{i}"))
                .spawn_scoped(s, move || sh.worker());
            match r {
                Ok(_) => started += 1,
                Err(e) if started == 0 => return Err(WalkError::Spawn(e)),
                // Fewer threads still finish the walk.
                Err(_) => break,
            }
        }
        Ok(())
    })?;
    let (problems, dropped) = std::mem::take(&mut *lock(&shared.problems));
    let totals = *lock(&shared.totals);
    let groups = std::mem::take(&mut *lock(&shared.groups));
    Ok(WalkResult {
        groups,
        totals,
        problems,
        problems_dropped: dropped,
        root_rule: None,
    })
}

/// Deep trees with wide fan-out keep one handle open per level with pending
/// siblings: allow as many as the hard limit permits.
fn raise_fd_limit() {
    use rustix::process::{getrlimit, setrlimit, Resource};
    let mut l = getrlimit(Resource::Nofile);
    if l.current != l.maximum {
        l.current = l.maximum;
        let _ = setrlimit(Resource::Nofile, l);
    }
}

impl Shared<'_> {
    fn worker(&self) {
        let mut buf: Vec<u8> = Vec::with_capacity(64 * 1024);
        let mut children: Vec<Job> = Vec::new();
        let mut totals = Totals::default();
        let mut job = self.next(lock(&self.stack));
        while let Some(j) = job {
            let before = totals;
            self.process(j, &mut children, buf.spare_capacity_mut(), &mut totals);
            if let Some(p) = &self.opts.progress {
                p.directories
                    .fetch_add(totals.directories - before.directories, Ordering::Relaxed);
                p.entries
                    .fetch_add(totals.entries() - before.entries(), Ordering::Relaxed);
                p.lost
                    .fetch_add(totals.lost - before.lost, Ordering::Relaxed);
            }
            // Publish the children and take the next directory under one
            // lock: one lock per directory is cheap next to reading it, and
            // a worker that the scheduler stops holds nothing back.
            let mut s = lock(&self.stack);
            s.extend(children.drain(..));
            if self.outstanding.fetch_sub(1, Ordering::AcqRel) == 1 {
                self.cv.notify_all();
            } else if s.len() > 1 && self.idle.load(Ordering::Relaxed) > 0 {
                self.cv.notify_one();
            }
            job = self.next(s);
        }
        lock(&self.totals).merge(&totals);
    }

    /// The next directory (LIFO: depth first), waiting while others work;
    /// `None` when the walk is done.
    fn next<'s>(&'s self, mut s: MutexGuard<'s, Vec<Job>>) -> Option<Job> {
        loop {
            if let Some(j) = s.pop() {
                return Some(j);
            }
            if self.outstanding.load(Ordering::Acquire) == 0 {
                return None;
            }
            self.idle.fetch_add(1, Ordering::Relaxed);
            s = self
                .cv
                .wait(s)
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            self.idle.fetch_sub(1, Ordering::Relaxed);
        }
    }

    fn problem(&self, path: Vec<u8>, message: String) {
        let mut p = lock(&self.problems);
        if p.0.len() < self.opts.problems_cap {
            p.0.push(Problem { path, message });
        } else {
            p.1 += 1;
        }
    }

    /// One directory: open it, judge its entries, queue its subdirectories.
    fn process(
        &self,
        job: Job,
        out: &mut Vec<Job>,
        buf: &mut [MaybeUninit<u8>],
        totals: &mut Totals,
    ) {
        let Job { dir, node, pref } = job;
        let Some(fd) = self.open_dir(dir, &node, totals) else {
            self.finish_one(node);
            return;
        };
        totals.directories += 1;
        let scan = self.scan(&fd, &node, pref, buf, totals);
        {
            let mut st = lock(&node.st);
            st.direct = scan.direct;
            st.names = scan.names;
            st.truncated = scan.truncated;
            st.kept |= scan.kept;
        }
        self.queue_children(&node, fd, scan.children, out);
        self.finish_one(node);
    }

    /// The directory's handle; None when it cannot be opened (reported) or
    /// is another filesystem (kept).
    fn open_dir(&self, dir: JobDir, node: &Arc<Node>, totals: &mut Totals) -> Option<OwnedFd> {
        let parent = match dir {
            // The root: already open, and the filesystem the walk stays on.
            JobDir::Open(fd) => return Some(fd),
            JobDir::At(parent) => parent,
        };
        let r = rustix::fs::openat(
            &*parent,
            &*node.name,
            OFlags::RDONLY | OFlags::DIRECTORY | OFlags::NOFOLLOW | OFlags::CLOEXEC,
            Mode::empty(),
        );
        drop(parent);
        let fd = match r {
            Ok(fd) => fd,
            Err(e) => {
                self.open_failed(node, e, totals);
                return None;
            }
        };
        match rustix::fs::statx(
            &fd,
            c"",
            AtFlags::EMPTY_PATH,
            StatxFlags::TYPE | StatxFlags::MNT_ID,
        ) {
            Ok(st) if self.other_fs(&st) => {
                totals.other_filesystem += 1;
                lock(&node.st).kept = true;
                None
            }
            Ok(_) => Some(fd),
            Err(e) => {
                self.open_failed(node, e, totals);
                None
            }
        }
    }

    /// Read the directory's entries and judge each.
    fn scan(
        &self,
        fd: &OwnedFd,
        node: &Node,
        pref: PRef,
        buf: &mut [MaybeUninit<u8>],
        totals: &mut Totals,
    ) -> Scan {
        let mut scan = Scan::default();
        let mut iter = RawDir::new(fd, buf);
        while let Some(ent) = iter.next() {
            match ent {
                Ok(ent) => self.entry(
                    fd,
                    node,
                    pref,
                    ent.file_name(),
                    ent.file_type(),
                    &mut scan,
                    totals,
                ),
                // The directory was removed while it was being read.
                Err(Errno::NOENT) => {
                    totals.vanished += 1;
                    break;
                }
                Err(e) => {
                    totals.unreadable += 1;
                    self.problem(
                        self.path_of(node),
                        format!("reading the directory stopped: {e}"),
                    );
                    scan.kept = true;
                    break;
                }
            }
        }
        scan
    }

    /// One entry: kept by a rule or a link, special, a subdirectory to
    /// walk, or a lost file (stat-ed, added to the directory's aggregate).
    #[allow(clippy::too_many_arguments)]
    fn entry(
        &self,
        fd: &OwnedFd,
        node: &Node,
        pref: PRef,
        name: &CStr,
        mut ft: FileType,
        scan: &mut Scan,
        totals: &mut Totals,
    ) {
        let nb = name.to_bytes();
        if nb == b"." || nb == b".." {
            return;
        }
        let (cref, rule) = self.policy.child(pref, nb);
        if let Some(rule) = rule {
            totals.count(rule.class);
            scan.kept = true;
            return;
        }
        if matches!(
            ft,
            FileType::Fifo | FileType::Socket | FileType::CharacterDevice | FileType::BlockDevice
        ) {
            totals.special += 1;
            return;
        }
        if ft == FileType::Directory {
            scan.children.push((nb.into(), cref));
            return;
        }
        if ft == FileType::Symlink && self.kept_link(fd, name, pref, scan, totals) {
            return;
        }
        let st = match rustix::fs::statx(
            fd,
            name,
            AtFlags::SYMLINK_NOFOLLOW | AtFlags::NO_AUTOMOUNT,
            StatxFlags::TYPE | StatxFlags::SIZE | StatxFlags::MTIME | StatxFlags::MNT_ID,
        ) {
            Ok(st) => st,
            Err(Errno::NOENT) => {
                totals.vanished += 1;
                return;
            }
            Err(e) => {
                let mut p = self.path_of(node);
                p.push(b'/');
                p.extend_from_slice(nb);
                self.problem(p, format!("stat: {e}"));
                scan.kept = true;
                return;
            }
        };
        if ft == FileType::Unknown {
            // Filesystems without d_type: the stat tells.
            ft = FileType::from_raw_mode(st.stx_mode.into());
            match ft {
                FileType::Directory => {
                    scan.children.push((nb.into(), cref));
                    return;
                }
                FileType::Symlink if self.kept_link(fd, name, pref, scan, totals) => return,
                FileType::Symlink | FileType::RegularFile => {}
                _ => {
                    totals.special += 1;
                    return;
                }
            }
        }
        if self.other_fs(&st) {
            // A file bind-mounted from elsewhere.
            totals.other_filesystem += 1;
            scan.kept = true;
            return;
        }
        self.lost(nb, &st, scan, totals);
    }

    /// A lost file: counted, and named in its directory's group.
    fn lost(&self, nb: &[u8], st: &rustix::fs::Statx, scan: &mut Scan, totals: &mut Totals) {
        totals.lost += 1;
        totals.lost_bytes += st.stx_size;
        scan.direct
            .add(st.stx_size, (st.stx_mtime.tv_sec, st.stx_mtime.tv_nsec));
        if scan.kept || scan.names.len() < self.opts.names_cap {
            scan.names.push(nb.to_vec());
        } else {
            scan.truncated = true;
        }
    }

    /// A symlink kept by where it points (into the persistence root).
    fn kept_link(
        &self,
        fd: &OwnedFd,
        name: &CStr,
        pref: PRef,
        scan: &mut Scan,
        totals: &mut Totals,
    ) -> bool {
        let Some(class) = self.link_class(fd, name, pref.inherit) else {
            return false;
        };
        totals.count(class);
        scan.kept = true;
        true
    }

    /// One job per subdirectory, sharing the parent's handle.
    fn queue_children(
        &self,
        node: &Arc<Node>,
        fd: OwnedFd,
        children: Vec<(Box<[u8]>, PRef)>,
        out: &mut Vec<Job>,
    ) {
        let n = children.len();
        if n == 0 {
            return;
        }
        node.pending.fetch_add(n, Ordering::AcqRel);
        self.outstanding.fetch_add(n, Ordering::AcqRel);
        let fd = Arc::new(fd);
        for (name, cref) in children {
            let child = Arc::new(Node {
                parent: Some(Arc::clone(node)),
                name,
                pending: AtomicUsize::new(1),
                boundary: self.policy.flags(cref) & F_BOUNDARY != 0,
                st: Mutex::default(),
            });
            out.push(Job {
                dir: JobDir::At(Arc::clone(&fd)),
                node: child,
                pref: cref,
            });
        }
    }

    fn other_fs(&self, st: &rustix::fs::Statx) -> bool {
        (st.stx_dev_major, st.stx_dev_minor) != self.root_dev
            || self
                .root_mnt
                .is_some_and(|m| st.stx_mask & StatxFlags::MNT_ID.bits() != 0 && st.stx_mnt_id != m)
    }

    /// A symlink into the persistence root is kept by an entry; a link that
    /// NixOS's /etc activation made is ephemeral by design.
    fn link_class(&self, dir: &OwnedFd, name: &CStr, inherit: u8) -> Option<Class> {
        let target = rustix::fs::readlinkat(dir, name, Vec::new()).ok()?;
        let t = target.to_bytes();
        if let Some(root) = &self.link_root {
            if t.starts_with(root) && (t.len() == root.len() || t[root.len()] == b'/') {
                return Some(Class::PersistedByEntry);
            }
        }
        if inherit & F_NIXOS_ETC != 0 && NIXOS_ETC_TARGETS.iter().any(|p| t.starts_with(p)) {
            return Some(Class::Ephemeral);
        }
        None
    }

    fn open_failed(&self, node: &Arc<Node>, e: Errno, totals: &mut Totals) {
        match e {
            // Gone, or replaced by a non-directory since it was listed.
            Errno::NOENT | Errno::NOTDIR | Errno::LOOP => totals.vanished += 1,
            _ => {
                totals.unreadable += 1;
                lock(&node.st).kept = true;
                self.problem(
                    self.path_of(node),
                    format!("cannot open the directory: {e}"),
                );
            }
        }
    }

    fn finish_one(&self, node: Arc<Node>) {
        if node.pending.fetch_sub(1, Ordering::AcqRel) == 1 {
            self.complete(node);
        }
    }

    /// A directory and all below it are done: fold it into its parent, or
    /// emit its groups. Iterative, so a 10,000-level chain completes without
    /// recursion (also in `Drop`: each node is dropped while its parent is
    /// still held here).
    fn complete(&self, mut node: Arc<Node>) {
        loop {
            let st = std::mem::take(&mut *lock(&node.st));
            let parent = node.parent.clone();
            match &parent {
                Some(p) if !st.kept && !node.boundary => {
                    let mut agg = st.direct;
                    let mut dirs = 1;
                    for c in &st.lost_children {
                        agg.merge(&c.agg);
                        dirs += c.dirs;
                    }
                    let summary = ChildSummary {
                        name: node.name.clone(),
                        agg,
                        dirs,
                    };
                    let mut ps = lock(&p.st);
                    if ps.kept {
                        drop(ps);
                        let path = self.path_of(p);
                        self.emit_tree(&path, summary);
                    } else {
                        ps.lost_children.push(summary);
                    }
                }
                _ => {
                    let path = self.path_of(&node);
                    if st.direct.count > 0 {
                        let mut names = st.names;
                        names.sort();
                        lock(&self.groups).push(RawGroup {
                            path: path.clone(),
                            kind: GroupKind::Files,
                            agg: st.direct,
                            dirs: 0,
                            names,
                            truncated: st.truncated,
                        });
                    }
                    for c in st.lost_children {
                        self.emit_tree(&path, c);
                    }
                    if let Some(p) = &parent {
                        self.mark_kept(p);
                    }
                }
            }
            drop(node);
            match parent {
                Some(p) if p.pending.fetch_sub(1, Ordering::AcqRel) == 1 => node = p,
                _ => return,
            }
        }
    }

    fn mark_kept(&self, p: &Arc<Node>) {
        let flushed = {
            let mut ps = lock(&p.st);
            if ps.kept {
                return;
            }
            ps.kept = true;
            std::mem::take(&mut ps.lost_children)
        };
        if !flushed.is_empty() {
            let path = self.path_of(p);
            for c in flushed {
                self.emit_tree(&path, c);
            }
        }
    }

    fn emit_tree(&self, parent_path: &[u8], c: ChildSummary) {
        if c.agg.count == 0 {
            return;
        }
        lock(&self.groups).push(RawGroup {
            path: join(parent_path, &c.name),
            kind: GroupKind::Tree,
            agg: c.agg,
            dirs: c.dirs,
            names: Vec::new(),
            truncated: false,
        });
    }

    /// The node's path in the audited tree (walking the parent chain: paths
    /// are built only for what is reported).
    fn path_of(&self, node: &Node) -> Vec<u8> {
        let mut parts: Vec<&[u8]> = Vec::new();
        let mut n = node;
        while let Some(p) = &n.parent {
            parts.push(&n.name);
            n = p;
        }
        let len = self.base.len() + parts.iter().map(|p| p.len() + 1).sum::<usize>();
        let mut out = Vec::with_capacity(len);
        out.extend_from_slice(self.base);
        for part in parts.iter().rev() {
            if !out.ends_with(b"/") {
                out.push(b'/');
            }
            out.extend_from_slice(part);
        }
        out
    }
}

fn join(dir: &[u8], name: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(dir.len() + 1 + name.len());
    out.extend_from_slice(dir);
    if !dir.ends_with(b"/") {
        out.push(b'/');
    }
    out.extend_from_slice(name);
    out
}
