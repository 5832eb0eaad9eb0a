//! # Reading the Nix store: closures and their sizes
//!
//! Two ways, same answer:
//! - [`Store::Db`]: the store's SQLite database (`/nix/var/nix/db/db.sqlite`,
//!   tables `ValidPaths` and `Refs`), opened read-only. When no write-ahead
//!   log is pending it is opened `immutable` (no locks, nothing written, not
//!   even a -shm file); when a `db.sqlite-wal` exists (a running nix-daemon
//!   keeps recent registrations there) it is opened `mode=ro`, which reads
//!   the log under WAL's reader protocol: it never writes the database and
//!   never blocks Nix's writers, and a checkpoint running meanwhile cannot
//!   hand it a torn page, which `immutable` (no change detection) could.
//!   One recursive query gives a closure.
//! - [`Store::Cli`]: `nix-store -q --requisites` and `nix-store -q --size`,
//!   for when the database cannot be opened (not root, another store layout).
//!
//! A path the database does not know is an error, so the caller can fall back
//! to the CLI, which asks the daemon.

use std::path::{Path, PathBuf};

use rusqlite::{Connection, OpenFlags, OptionalExtension};
use tabula_run::Cmd;

/// The default database of the system store.
pub const DEFAULT_DB: &str = "/nix/var/nix/db/db.sqlite";

/// One path of a closure.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct PathInfo {
    pub path: String,
    pub nar_size: u64,
}

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("opening the Nix store database {path} read-only")]
    Open {
        path: PathBuf,
        #[source]
        source: rusqlite::Error,
    },
    #[error("querying the Nix store database {path}")]
    Query {
        path: PathBuf,
        #[source]
        source: rusqlite::Error,
    },
    #[error("{path} is not a valid path in the Nix store database {db}")]
    NotValid { path: String, db: PathBuf },
    /// Not transparent: the CLI finds the [`tabula_run::Error`] in the chain
    /// (a missing `nix-store` is exit 4).
    #[error("asking nix-store")]
    Run(#[from] tabula_run::Error),
    #[error("`nix-store -q --size` printed {got} sizes for {want} paths")]
    SizeCount { got: usize, want: usize },
}

/// How closures are read.
#[derive(Debug)]
pub enum Store {
    Db { conn: Connection, path: PathBuf },
    Cli,
}

/// Which way was used, for reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Method {
    Database,
    Cli,
}

impl Store {
    /// Open the database at `db` read-only.
    ///
    /// # Errors
    /// [`StoreError::Open`] when the file is missing, unreadable or not a Nix
    /// database.
    pub fn open_db(db: &Path) -> Result<Store, StoreError> {
        let err = |source| StoreError::Open {
            path: db.to_owned(),
            source,
        };
        if !db.is_file() {
            return Err(err(rusqlite::Error::InvalidPath(db.to_owned())));
        }
        let mut wal = db.as_os_str().to_owned();
        wal.push("-wal");
        let wal_pending = std::fs::metadata(&wal).is_ok_and(|m| m.len() > 0);
        let mode = if wal_pending {
            "mode=ro"
        } else {
            "immutable=1"
        };
        let uri = format!("file:{}?{mode}", uri_escape(&db.to_string_lossy()));
        let conn = Connection::open_with_flags(
            &uri,
            OpenFlags::SQLITE_OPEN_READ_ONLY
                | OpenFlags::SQLITE_OPEN_URI
                | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )
        .map_err(err)?;
        // Prove it is a Nix database now, not at the first query.
        conn.query_row("SELECT count(*) FROM ValidPaths LIMIT 1", [], |_| Ok(()))
            .map_err(err)?;
        tracing::debug!("reading the Nix store database {} ({mode})", db.display());
        Ok(Store::Db {
            conn,
            path: db.to_owned(),
        })
    }

    /// The database when it opens, else the CLI; the reason for a fallback is
    /// logged.
    pub fn open_or_cli(db: &Path) -> Store {
        match Store::open_db(db) {
            Ok(s) => s,
            Err(e) => {
                tracing::info!("{e}: falling back to nix-store");
                Store::Cli
            }
        }
    }

    pub fn method(&self) -> Method {
        match self {
            Store::Db { .. } => Method::Database,
            Store::Cli => Method::Cli,
        }
    }

    /// Every path in the closure of `root` with its NAR size, sorted by path.
    ///
    /// # Errors
    /// [`StoreError::NotValid`] when the database does not know `root`; a
    /// query or command error otherwise.
    pub fn closure(&self, root: &str) -> Result<Vec<PathInfo>, StoreError> {
        let mut out = match self {
            Store::Db { conn, path } => db_closure(conn, path, root)?,
            Store::Cli => cli_closure(root)?,
        };
        out.sort();
        Ok(out)
    }

    /// The total NAR size of the closure of `root`.
    ///
    /// # Errors
    /// As for [`Store::closure`].
    pub fn closure_size(&self, root: &str) -> Result<u64, StoreError> {
        Ok(self.closure(root)?.iter().map(|p| p.nar_size).sum())
    }
}

fn db_closure(conn: &Connection, db: &Path, root: &str) -> Result<Vec<PathInfo>, StoreError> {
    let q = |source| StoreError::Query {
        path: db.to_owned(),
        source,
    };
    let id: Option<i64> = conn
        .query_row("SELECT id FROM ValidPaths WHERE path = ?1", [root], |r| {
            r.get(0)
        })
        .optional()
        .map_err(q)?;
    let Some(id) = id else {
        return Err(StoreError::NotValid {
            path: root.to_owned(),
            db: db.to_owned(),
        });
    };
    // UNION (not UNION ALL) makes the walk stop at paths already seen.
    let mut stmt = conn
        .prepare_cached(
            "WITH RECURSIVE closure(id) AS (
                 SELECT ?1
                 UNION
                 SELECT Refs.reference FROM Refs JOIN closure ON Refs.referrer = closure.id
             )
             SELECT v.path, coalesce(v.narSize, 0) FROM ValidPaths v JOIN closure c ON v.id = c.id",
        )
        .map_err(q)?;
    let rows = stmt
        .query_map([id], |r| {
            Ok(PathInfo {
                path: r.get(0)?,
                nar_size: u64::try_from(r.get::<_, i64>(1)?).unwrap_or(0),
            })
        })
        .map_err(q)?;
    rows.collect::<Result<Vec<_>, _>>().map_err(q)
}

fn nix_store() -> Cmd {
    Cmd::new("nix-store").install_hint("Nix: Debian package nix-bin, or a NixOS system")
}

fn cli_closure(root: &str) -> Result<Vec<PathInfo>, StoreError> {
    let paths: Vec<String> = nix_store()
        .args(["-q", "--requisites", root])
        .run()?
        .text()
        .lines()
        .filter(|l| !l.is_empty())
        .map(str::to_owned)
        .collect();
    let mut out = Vec::with_capacity(paths.len());
    // Batches of 8000 paths (about 600 KB of argv) stay well below the
    // kernel's 2 MB limit; a typical system closure takes one call.
    for chunk in paths.chunks(8000) {
        let text = nix_store().args(["-q", "--size"]).args(chunk).run()?.text();
        let sizes: Vec<u64> = text.lines().filter_map(|l| l.trim().parse().ok()).collect();
        if sizes.len() != chunk.len() {
            return Err(StoreError::SizeCount {
                got: sizes.len(),
                want: chunk.len(),
            });
        }
        out.extend(chunk.iter().zip(sizes).map(|(p, s)| PathInfo {
            path: p.clone(),
            nar_size: s,
        }));
    }
    Ok(out)
}

/// Escape what an SQLite URI cannot hold literally.
fn uri_escape(path: &str) -> String {
    let mut s = String::with_capacity(path.len());
    for c in path.chars() {
        match c {
            '?' => s.push_str("%3f"),
            '#' => s.push_str("%23"),
            '%' => s.push_str("%25"),
            _ => s.push(c),
        }
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A database with the Nix schema (the tables tabula reads) built here.
    fn fake_db(dir: &Path) -> PathBuf {
        let p = dir.join("db.sqlite");
        let c = Connection::open(&p).unwrap();
        c.execute_batch(
            "CREATE TABLE ValidPaths (id integer primary key autoincrement not null,
               path text unique not null, hash text not null, registrationTime integer not null,
               deriver text, narSize integer, ultimate integer, sigs text, ca text);
             CREATE TABLE Refs (referrer integer not null, reference integer not null,
               primary key (referrer, reference));
             INSERT INTO ValidPaths (path, hash, registrationTime, narSize) VALUES
               ('/nix/store/a-top', 'h', 0, 100), ('/nix/store/b-lib-1.0', 'h', 0, 20),
               ('/nix/store/c-dep-2.0', 'h', 0, 3), ('/nix/store/d-other', 'h', 0, 9);
             INSERT INTO Refs VALUES (1,1),(1,2),(2,3),(3,2),(4,3);",
        )
        .unwrap();
        p
    }

    #[test]
    fn closure_follows_refs_once_even_with_cycles() {
        let dir = tempfile::tempdir().unwrap();
        let db = fake_db(dir.path());
        let before = std::fs::read(&db).unwrap();
        let s = Store::open_db(&db).unwrap();
        let c = s.closure("/nix/store/a-top").unwrap();
        let names: Vec<_> = c.iter().map(|p| p.path.as_str()).collect();
        assert_eq!(
            names,
            [
                "/nix/store/a-top",
                "/nix/store/b-lib-1.0",
                "/nix/store/c-dep-2.0"
            ]
        );
        assert_eq!(s.closure_size("/nix/store/a-top").unwrap(), 123);
        assert!(matches!(
            s.closure("/nix/store/zzz"),
            Err(StoreError::NotValid { .. })
        ));
        drop(s);
        assert_eq!(
            std::fs::read(&db).unwrap(),
            before,
            "read-only means untouched"
        );
    }

    #[test]
    fn registrations_still_in_the_write_ahead_log_are_seen() {
        // Like a running nix-daemon: the writer keeps the database open in
        // WAL mode, so new rows sit in db.sqlite-wal, not in db.sqlite.
        let dir = tempfile::tempdir().unwrap();
        let db = fake_db(dir.path());
        let writer = Connection::open(&db).unwrap();
        writer
            .execute_batch(
                "PRAGMA journal_mode=WAL; PRAGMA wal_autocheckpoint=0;
                 INSERT INTO ValidPaths (path, hash, registrationTime, narSize)
                   VALUES ('/nix/store/e-new-1.0', 'h', 0, 5);
                 INSERT INTO Refs VALUES (5, 3);",
            )
            .unwrap();
        assert!(dir.path().join("db.sqlite-wal").metadata().unwrap().len() > 0);
        let s = Store::open_db(&db).unwrap();
        assert_eq!(s.closure_size("/nix/store/e-new-1.0").unwrap(), 5 + 3 + 20);
        drop(writer);
    }

    #[test]
    fn a_failed_command_stays_in_the_error_chain() {
        let e = anyhow::Error::new(StoreError::from(tabula_run::Error::NotFound {
            program: "nix-store".into(),
            hint: None,
        }));
        assert!(e
            .chain()
            .any(|c| c.downcast_ref::<tabula_run::Error>().is_some()));
    }

    #[test]
    fn a_missing_or_foreign_database_does_not_open() {
        let dir = tempfile::tempdir().unwrap();
        assert!(Store::open_db(&dir.path().join("none.sqlite")).is_err());
        let junk = dir.path().join("junk.sqlite");
        std::fs::write(&junk, b"not a database").unwrap();
        assert!(Store::open_db(&junk).is_err());
        assert!(matches!(Store::open_or_cli(&junk), Store::Cli));
    }
}
