//! Fleets (issue 13, items 1, 2, 4): a fleet of three host specs (the
//! embedded host and two small ones, `laptop` with `[deploy]` on the tag
//! `laptop`) renders one flake whose every .nix parses and which evaluates
//! offline with real Nix and stand-ins for nixpkgs and colmena;
//! `check --fleet` fires the cross-host rules; `deploy` prints and runs
//! exactly one `colmena apply --on` (a recording fake colmena on PATH).
#![allow(clippy::unwrap_used, clippy::panic)]

mod support;

use std::path::{Path, PathBuf};
use std::process::Command as StdCommand;

use assert_cmd::Command;
use serde_json::Value;

const EMBEDDED: &str = include_str!("../../tabula-spec/hosts/surface-pro-8.toml");
const DESK: &str = include_str!("fixtures/fleet/desk.toml");
const LAPTOP: &str = include_str!("fixtures/fleet/laptop.toml");

fn tabula(dir: &Path) -> Command {
    let mut c = Command::cargo_bin("tabula").unwrap();
    c.current_dir(dir)
        .env_remove("TABULA_SPEC")
        .env("NO_COLOR", "1")
        .timeout(std::time::Duration::from_secs(60));
    c
}

/// A temp dir with `fleet/` holding the three specs.
fn fleet_dir() -> tempfile::TempDir {
    let d = tempfile::tempdir().unwrap();
    let f = d.path().join("fleet");
    std::fs::create_dir(&f).unwrap();
    std::fs::write(f.join("surface-pro-8.toml"), EMBEDDED).unwrap();
    std::fs::write(f.join("desk.toml"), DESK).unwrap();
    std::fs::write(f.join("laptop.toml"), LAPTOP).unwrap();
    // Not a host spec (no [host]): skipped.
    std::fs::write(f.join("notes.toml"), "[todo]\nitems = []\n").unwrap();
    d
}

fn have_nix(test: &str) -> bool {
    let ok = StdCommand::new("nix-instantiate")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());
    if !ok {
        println!("SKIP {test}: nix-instantiate not found (Debian package nix-bin)");
    }
    ok
}

/// Offline `nix-instantiate`: a dummy store, no NIX_PATH.
fn nix_instantiate() -> StdCommand {
    let mut c = StdCommand::new("nix-instantiate");
    c.env("NIX_CONFIG", "build-users-group =\nexperimental-features =")
        .env("NIX_PATH", "")
        .env_remove("NIX_REMOTE")
        .arg("--store")
        .arg("dummy://");
    c
}

fn nix_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            nix_files(&p, out);
        } else if p.extension().is_some_and(|x| x == "nix") {
            out.push(p);
        }
    }
}

/// The flake's outputs with stand-ins: nixpkgs.lib.nixosSystem returns its
/// arguments, `import nixpkgs` a file that returns its own, colmena's
/// makeHive the hive as given, deploy-rs's activate.nixos its argument.
/// Paths become strings (no store: the dummy store takes none).
const FLAKE_EVAL: &str = r#"
{ dir, nixpkgsFile }:
let
  flake = import (/. + dir + "/flake.nix");
  nixpkgs = { outPath = nixpkgsFile; lib.nixosSystem = args: { nixosSystem = args; }; };
  colmena = { lib.makeHive = hive: { hive = hive; }; };
  deploy-rs = { lib.x86_64-linux.activate.nixos = c: { activates = c; }; };
  inputs = { inherit self nixpkgs colmena deploy-rs; impermanence = { }; nixos-hardware = { }; microvm = { }; };
  self = flake.outputs inputs;
  strs = map toString;
in {
  inputs = builtins.attrNames flake.inputs;
  configs = builtins.mapAttrs (n: c: {
    modules = strs c.nixosSystem.modules;
    inputs = builtins.attrNames c.nixosSystem.specialArgs.inputs;
  }) self.nixosConfigurations;
  meta = { nixpkgs = self.colmenaHive.hive.meta.nixpkgs; inputs = builtins.attrNames self.colmenaHive.hive.meta.specialArgs.inputs; };
  nodes = builtins.mapAttrs (n: v: { deployment = v.deployment; imports = strs v.imports; })
    (removeAttrs self.colmenaHive.hive [ "meta" ]);
  deploy = if self ? deploy then builtins.mapAttrs (n: v: removeAttrs v [ "profiles" ] // {
    user = v.profiles.system.user;
    activates = strs v.profiles.system.path.activates.nixosSystem.modules;
  }) self.deploy.nodes else null;
}
"#;

fn eval_flake(out: &Path) -> Value {
    let h = out.join("..").join("flake-eval.nix");
    std::fs::write(&h, FLAKE_EVAL).unwrap();
    let np = out.join("..").join("nixpkgs-stand-in.nix");
    std::fs::write(
        &np,
        "{ system }: { standIn = \"nixpkgs\"; inherit system; }\n",
    )
    .unwrap();
    let o = nix_instantiate()
        .args(["--eval", "--strict", "--json"])
        .arg(&h)
        .arg("--argstr")
        .arg("dir")
        .arg(out.canonicalize().unwrap())
        .arg("--argstr")
        .arg("nixpkgsFile")
        .arg(np.canonicalize().unwrap())
        .output()
        .unwrap();
    assert!(
        o.status.success(),
        "evaluating the fleet flake failed:\n{}",
        String::from_utf8_lossy(&o.stderr)
    );
    serde_json::from_slice(&o.stdout).unwrap()
}

fn strs(v: &Value) -> Vec<&str> {
    v.as_array()
        .unwrap_or_else(|| panic!("not a list: {v}"))
        .iter()
        .map(|x| x.as_str().unwrap())
        .collect()
}

#[test]
fn a_fleet_of_three_renders_one_flake_that_parses_and_evaluates() {
    let d = fleet_dir();
    let a = tabula(d.path())
        .args(["render", "--fleet", "fleet", "--out", "out"])
        .assert()
        .success();
    let stdout = String::from_utf8_lossy(&a.get_output().stdout).into_owned();
    assert!(stdout.contains("desk, laptop, surface-pro-8"), "{stdout}");
    let out = d.path().join("out");
    for h in ["desk", "laptop", "surface-pro-8"] {
        assert!(
            out.join("hosts").join(h).join("default.nix").is_file(),
            "{h}"
        );
        assert!(
            out.join("docs").join(h).join("ARCHITECTURE.md").is_file(),
            "{h}"
        );
        assert!(out.join("fleet").join(format!("{h}.toml")).is_file(), "{h}");
    }
    assert!(!out.join("fleet/notes.toml").exists(), "not a host spec");
    // The fleet's page lists hosts, targets and tags.
    let page = std::fs::read_to_string(out.join("docs/FLEET.md")).unwrap();
    assert!(
        page.contains("`laptop.lan`") && page.contains("`@laptop`"),
        "{page}"
    );
    assert!(
        page.contains("`desk.lan`") && page.contains("2222"),
        "{page}"
    );
    assert!(
        page.contains("tabula deploy --fleet fleet/ --on @laptop"),
        "{page}"
    );
    assert!(page.contains("not deployed (no deploy table)"), "{page}");

    if !have_nix("a_fleet_of_three_renders_one_flake_that_parses_and_evaluates") {
        return;
    }
    let mut files = Vec::new();
    nix_files(&out, &mut files);
    assert!(files.len() >= 31, "{files:?}");
    for f in &files {
        let o = nix_instantiate().arg("--parse").arg(f).output().unwrap();
        assert!(
            o.status.success(),
            "{} does not parse:\n{}",
            f.display(),
            String::from_utf8_lossy(&o.stderr)
        );
    }
    let v = eval_flake(&out);
    let root = out.canonicalize().unwrap();
    let configs = v["configs"].as_object().unwrap();
    assert_eq!(
        configs.keys().collect::<Vec<_>>(),
        ["desk", "laptop", "surface-pro-8"]
    );
    let nodes = v["nodes"].as_object().unwrap();
    assert_eq!(
        nodes.keys().collect::<Vec<_>>(),
        configs.keys().collect::<Vec<_>>()
    );
    for (h, c) in configs {
        let want = format!("{}/hosts/{h}", root.display());
        assert_eq!(strs(&c["modules"]), [want.as_str()], "{h}");
        // A node imports the same module list as its nixosConfiguration.
        assert_eq!(nodes[h]["imports"], c["modules"], "{h}");
        assert!(strs(&c["inputs"]).contains(&"colmena"), "{h}");
    }
    let laptop = &nodes["laptop"]["deployment"];
    assert_eq!(laptop["targetHost"], "laptop.lan");
    assert_eq!(laptop["targetUser"], "root");
    assert_eq!(laptop["targetPort"], Value::Null);
    assert_eq!(strs(&laptop["tags"]), ["laptop", "mobile"]);
    assert_eq!(laptop["buildOnTarget"], false);
    let desk = &nodes["desk"]["deployment"];
    assert_eq!(desk["targetHost"], "desk.lan");
    assert_eq!(desk["targetUser"], "admin");
    assert_eq!(desk["targetPort"], 2222);
    assert_eq!(desk["buildOnTarget"], true);
    // No [deploy]: colmena never deploys it.
    let sp8 = &nodes["surface-pro-8"]["deployment"];
    assert_eq!(sp8["targetHost"], Value::Null);
    assert_eq!(sp8["allowLocalDeployment"], false);
    assert_eq!(v["meta"]["nixpkgs"]["system"], "x86_64-linux");
    assert!(strs(&v["meta"]["inputs"]).contains(&"nixpkgs"));
    assert!(strs(&v["inputs"]).contains(&"colmena"));
    assert!(!strs(&v["inputs"]).contains(&"deploy-rs"));
    assert_eq!(v["deploy"], Value::Null);

    // The same hosts given with --spec: the same flake, byte for byte.
    tabula(d.path())
        .args(["render", "--out", "out2"])
        .args(["--spec", "fleet/desk.toml", "--spec", "fleet/laptop.toml"])
        .args(["--spec", "fleet/surface-pro-8.toml"])
        .assert()
        .success();
    assert_eq!(
        std::fs::read(out.join("flake.nix")).unwrap(),
        std::fs::read(d.path().join("out2/flake.nix")).unwrap()
    );
    // The rendered fleet/ renders again to the same bytes (nothing written).
    let again = tabula(d.path())
        .args(["--json", "render", "--fleet", "out/fleet", "--out", "out"])
        .assert()
        .success();
    let env: Value = serde_json::from_slice(&again.get_output().stdout).unwrap();
    assert_eq!(env["data"]["written"], 0, "{env}");
}

#[test]
fn deploy_rs_nodes_when_the_fleet_asks() {
    if !have_nix("deploy_rs_nodes_when_the_fleet_asks") {
        return;
    }
    let d = fleet_dir();
    std::fs::write(
        d.path().join("fleet/fleet.toml"),
        "[fleet]\ndeploy_rs = true\n",
    )
    .unwrap();
    tabula(d.path())
        .args(["render", "--fleet", "fleet", "--out", "out"])
        .assert()
        .success();
    let out = d.path().join("out");
    let v = eval_flake(&out);
    assert!(strs(&v["inputs"]).contains(&"deploy-rs"));
    let nodes = v["deploy"].as_object().unwrap();
    // Only hosts with a [deploy] target.
    assert_eq!(nodes.keys().collect::<Vec<_>>(), ["desk", "laptop"]);
    assert_eq!(nodes["desk"]["hostname"], "desk.lan");
    assert_eq!(nodes["desk"]["sshUser"], "admin");
    assert_eq!(strs(&nodes["desk"]["sshOpts"]), ["-p", "2222"]);
    assert_eq!(nodes["desk"]["remoteBuild"], true);
    assert_eq!(nodes["laptop"]["user"], "root");
    let root = out.canonicalize().unwrap();
    assert_eq!(
        strs(&nodes["laptop"]["activates"]),
        [format!("{}/hosts/laptop", root.display()).as_str()]
    );
}

#[test]
fn check_fleet_fires_the_cross_host_rules_with_places() {
    let d = fleet_dir();
    // A second laptop copied from the first: same name, same target.
    std::fs::write(d.path().join("fleet/laptop2.toml"), LAPTOP).unwrap();
    let a = tabula(d.path())
        .args(["--json", "check", "--fleet", "fleet"])
        .assert()
        .code(1);
    let env: Value = serde_json::from_slice(&a.get_output().stdout).unwrap();
    let codes: Vec<&str> = env["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["code"].as_str().unwrap())
        .collect();
    assert!(codes.contains(&"fleet-host-duplicate"), "{codes:?}");
    assert!(codes.contains(&"fleet-target-shared"), "{codes:?}");
    let hosts = env["data"]["hosts"].as_array().unwrap();
    let second = hosts
        .iter()
        .find(|h| h["spec"] == "fleet/laptop2.toml")
        .unwrap();
    let f = second["findings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["code"] == "fleet-target-shared")
        .unwrap();
    assert_eq!(f["object"], "deploy.target");
    assert!(f["line"].as_u64().is_some());
    assert!(
        f["message"]
            .as_str()
            .unwrap()
            .contains("fleet/laptop.toml:"),
        "{f}"
    );
    // render refuses the fleet, writing nothing.
    tabula(d.path())
        .args(["render", "--fleet", "fleet", "--out", "out"])
        .assert()
        .code(1);
    assert!(!d.path().join("out/flake.nix").exists());
    // The clean fleet checks clean.
    std::fs::remove_file(d.path().join("fleet/laptop2.toml")).unwrap();
    tabula(d.path())
        .args(["check", "--fleet", "fleet"])
        .assert()
        .success();
}

#[test]
fn a_bad_deploy_target_names_its_line_and_the_fix() {
    let d = fleet_dir();
    let bad = LAPTOP.replace("root@laptop.lan", "root@laptop.lan:ssh");
    std::fs::write(d.path().join("fleet/laptop.toml"), &bad).unwrap();
    let line = bad.lines().position(|l| l.starts_with("target =")).unwrap() + 1;
    let a = tabula(d.path())
        .args(["check", "--fleet", "fleet"])
        .assert()
        .code(2);
    let err = String::from_utf8_lossy(&a.get_output().stderr).into_owned();
    assert!(err.contains(&format!("laptop.toml:{line}")), "{err}");
    assert!(
        err.contains("not a port") && err.contains("user@host:port"),
        "{err}"
    );
}

/// A fake colmena that records its argv and working directory.
fn fake_colmena(dir: &Path) -> (PathBuf, PathBuf) {
    let bin = dir.join("bin");
    std::fs::create_dir_all(&bin).unwrap();
    let log = dir.join("colmena.log");
    let script = format!(
        "#!/bin/sh\nprintf '%s\\n' \"$PWD\" >> '{}'\nfor a in \"$@\"; do printf '%s\\n' \"$a\" >> '{}'; done\nprintf -- '--\\n' >> '{}'\n",
        log.display(),
        log.display(),
        log.display()
    );
    let p = bin.join("colmena");
    std::fs::write(&p, script).unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o755)).unwrap();
    (bin, log)
}

fn path_with(bin: &Path) -> String {
    format!(
        "{}:{}",
        bin.display(),
        std::env::var("PATH").unwrap_or_default()
    )
}

#[test]
fn deploy_dry_prints_one_colmena_command_for_the_tag_and_runs_nothing() {
    let d = fleet_dir();
    let (bin, log) = fake_colmena(d.path());
    let a = tabula(d.path())
        .env("PATH", path_with(&bin))
        .args(["deploy", "--fleet", "fleet", "--on", "@laptop", "--dry"])
        .assert()
        .success();
    let stdout = String::from_utf8_lossy(&a.get_output().stdout).into_owned();
    let lines: Vec<&str> = stdout
        .lines()
        .filter(|l| l.contains("colmena apply"))
        .collect();
    assert_eq!(lines, ["cd out && colmena apply --on laptop"], "{stdout}");
    assert!(!log.exists(), "--dry ran colmena");
    assert!(!d.path().join("out").exists(), "--dry wrote the flake");
    // JSON: the argv and where it runs.
    let a = tabula(d.path())
        .args([
            "--json",
            "deploy",
            "--fleet",
            "fleet",
            "--on",
            "@home,laptop",
            "--dry",
            "--boot",
        ])
        .assert()
        .success();
    let env: Value = serde_json::from_slice(&a.get_output().stdout).unwrap();
    assert_eq!(env["command"], "deploy");
    assert_eq!(
        env["data"]["commands"][0]["argv"],
        serde_json::json!(["colmena", "apply", "boot", "--on", "desk,laptop"])
    );
    let hosts: Vec<&str> = env["data"]["hosts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| h["host"].as_str().unwrap())
        .collect();
    assert_eq!(hosts, ["desk", "laptop"]);
    assert!(env["data"]["hosts"][0]["diff"]
        .as_str()
        .unwrap()
        .contains("would compare the running system"));
}

#[test]
fn deploy_yes_runs_exactly_the_printed_colmena_command() {
    let d = fleet_dir();
    let (bin, log) = fake_colmena(d.path());
    tabula(d.path())
        .env("PATH", path_with(&bin))
        .args([
            "deploy",
            "--fleet",
            "fleet",
            "--on",
            "@laptop",
            "--yes",
            "--no-diff",
        ])
        .assert()
        .success();
    let out = d.path().join("out").canonicalize().unwrap();
    let logged = std::fs::read_to_string(&log).unwrap();
    assert_eq!(
        logged,
        format!("{}\napply\n--on\nlaptop\n--\n", out.display()),
        "colmena ran with other arguments"
    );
    // It ran in the rendered fleet flake.
    assert!(out.join("flake.nix").is_file());
}

#[test]
fn deploy_refuses_without_a_terminal_and_names_colmena_when_missing() {
    let d = fleet_dir();
    let (bin, log) = fake_colmena(d.path());
    // No --yes, stdin not a terminal: refused (3), nothing run.
    let a = tabula(d.path())
        .env("PATH", path_with(&bin))
        .args(["deploy", "--fleet", "fleet", "--on", "desk"])
        .write_stdin("y\n")
        .assert()
        .code(3);
    let err = String::from_utf8_lossy(&a.get_output().stderr).into_owned();
    assert!(err.contains("--yes"), "{err}");
    assert!(!log.exists());
    // colmena missing: exit 4 with the way to get it.
    let empty = d.path().join("empty-bin");
    std::fs::create_dir(&empty).unwrap();
    let a = tabula(d.path())
        .env("PATH", &empty)
        .args(["deploy", "--fleet", "fleet", "--on", "desk", "--yes"])
        .assert()
        .code(4);
    let err = String::from_utf8_lossy(&a.get_output().stderr).into_owned();
    assert!(err.contains("nix shell nixpkgs#colmena"), "{err}");
    // A selector that names nothing, and a host without [deploy]: usage.
    for (on, says) in [
        ("@nope", "no host of the fleet has this tag"),
        ("surface-pro-8", "has no [deploy] table"),
    ] {
        let a = tabula(d.path())
            .args(["deploy", "--fleet", "fleet", "--on", on, "--dry"])
            .assert()
            .code(2);
        let err = String::from_utf8_lossy(&a.get_output().stderr).into_owned();
        assert!(err.contains(says), "{on}: {err}");
    }
}

#[test]
fn a_host_deployed_on_this_machine_goes_through_apply_local() {
    let d = fleet_dir();
    let here = DESK.replace("name = \"desk\"", "name = \"here\"").replace(
        "target = \"admin@desk.lan:2222\"\ntags = [\"home\"]\nbuild_on = \"target\"",
        "allow_local = true\ntags = [\"home\"]",
    );
    assert!(here.contains("allow_local = true"));
    std::fs::write(d.path().join("fleet/here.toml"), here).unwrap();
    let (bin, log) = fake_colmena(d.path());
    let a = tabula(d.path())
        .env("PATH", path_with(&bin))
        .args([
            "deploy", "--fleet", "fleet", "--on", "@home", "--dry", "--boot",
        ])
        .assert()
        .success();
    let stdout = String::from_utf8_lossy(&a.get_output().stdout).into_owned();
    let sudo = if support::is_root() { "" } else { " --sudo" };
    let lines: Vec<&str> = stdout
        .lines()
        .filter(|l| l.contains("colmena apply"))
        .collect();
    assert_eq!(
        lines,
        [
            "cd out && colmena apply boot --on desk".to_owned(),
            format!("cd out && colmena apply-local boot --node here{sudo}")
        ],
        "{stdout}"
    );
    tabula(d.path())
        .env("PATH", path_with(&bin))
        .args([
            "deploy",
            "--fleet",
            "fleet",
            "--on",
            "@home",
            "--yes",
            "--boot",
            "--no-diff",
        ])
        .assert()
        .success();
    let out = d.path().join("out").canonicalize().unwrap();
    let o = out.display();
    assert_eq!(
        std::fs::read_to_string(&log).unwrap(),
        format!(
            "{o}\napply\nboot\n--on\ndesk\n--\n{o}\napply-local\nboot\n--node\nhere\n{}--\n",
            if sudo.is_empty() { "" } else { "--sudo\n" }
        )
    );
}

// --- status --fleet / audit --fleet (issue 13, item 2) ---------------------

/// A fake `colmena` that answers `exec --on A,B -- CMD...` the way colmena
/// 0.5's plain output does (zhaofengli/colmena @ 5bf4ce6, src/progress/plain.rs):
/// every line on stderr as `{name:>width} | {line}`, width the longest
/// selected name (at least 5), then the job's state line (`Succeeded` or
/// `Failed: Child process exited with error code: N`), the meta job's
/// `All done!` with an empty label, and exit 1 when any node failed. Each
/// node prints `canned/NAME.out` and exits `canned/NAME.code`. The argv is
/// recorded in colmena.log.
fn fake_colmena_exec(dir: &Path) -> (PathBuf, PathBuf, PathBuf) {
    let bin = dir.join("bin");
    let canned = dir.join("canned");
    std::fs::create_dir_all(&bin).unwrap();
    std::fs::create_dir_all(&canned).unwrap();
    let log = dir.join("colmena.log");
    let script = format!(
        r#"#!/bin/sh
printf '%s\n' "$PWD" >> '{log}'
for a in "$@"; do printf '%s\n' "$a" >> '{log}'; done
on=""
while [ $# -gt 0 ]; do
  case "$1" in --on) on="$2"; shift;; --) break;; esac
  shift
done
names=$(printf '%s' "$on" | tr ',' ' ')
w=5
for n in $names; do [ ${{#n}} -gt $w ] && w=${{#n}}; done
failed=0
for n in $names; do
  while IFS= read -r l; do printf "%${{w}}s | %s\n" "$n" "$l" >&2; done < '{canned}'/$n.out
  code=$(cat '{canned}'/$n.code)
  if [ "$code" = 0 ]; then
    printf "%${{w}}s | Succeeded\n" "$n" >&2
  else
    printf "%${{w}}s | Failed: Child process exited with error code: %s\n" "$n" "$code" >&2
    failed=$((failed+1))
  fi
done
printf "%${{w}}s | All done!\n" "" >&2
if [ $failed -gt 0 ]; then
  printf ' ERROR -----\n ERROR Operation failed with error: Exec failed on %s hosts\n' $failed >&2
  exit 1
fi
"#,
        log = log.display(),
        canned = canned.display()
    );
    let p = bin.join("colmena");
    std::fs::write(&p, script).unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o755)).unwrap();
    (bin, log, canned)
}

/// A status envelope as `tabula status --json` prints it (pretty).
fn status_envelope(host: &str, drift: bool) -> String {
    let items = if drift {
        serde_json::json!([
            {"name": "/", "state": "ok"},
            {"name": "/persist", "state": "drift", "detail": "compress=zstd:1, spec says zstd:3"},
            {"name": "swap", "state": "missing"}
        ])
    } else {
        serde_json::json!([{"name": "/", "state": "ok"}, {"name": "/nix", "state": "ok"}])
    };
    let error = drift.then(|| serde_json::json!({
        "code": "findings", "message": "the command found something: see data and findings", "exit": 1
    }));
    serde_json::to_string_pretty(&serde_json::json!({
        "tabula": 1, "command": "status", "ok": !drift,
        "data": {"host": host, "target": null, "ok": !drift, "items": items},
        "findings": [], "error": error
    }))
    .unwrap()
}

/// The fleet plus a third deployable host `gw`, and the canned answers:
/// desk ok, laptop drift, gw prints a line that is no envelope.
fn fleet_with_answers(d: &Path, canned: &Path) {
    let gw = DESK
        .replace("name = \"desk\"", "name = \"gw\"")
        .replace("admin@desk.lan:2222", "root@gw.lan")
        .replace("tags = [\"home\"]", "tags = [\"edge\"]");
    assert!(gw.contains("root@gw.lan"));
    std::fs::write(d.join("fleet/gw.toml"), gw).unwrap();
    let put = |n: &str, out: &str, code: i32| {
        std::fs::write(canned.join(format!("{n}.out")), format!("{out}\n")).unwrap();
        std::fs::write(canned.join(format!("{n}.code")), format!("{code}\n")).unwrap();
    };
    put("desk", &status_envelope("desk", false), 0);
    put("laptop", &status_envelope("laptop", true), 1);
    put("gw", "bash: line 1: tabula: command not found", 127);
}

#[test]
fn status_fleet_prints_one_table_from_colmena_exec_with_exit_codes() {
    let d = fleet_dir();
    let (bin, log, canned) = fake_colmena_exec(d.path());
    fleet_with_answers(d.path(), &canned);
    // All three: gw did not answer with an envelope -> 3.
    let a = tabula(d.path())
        .env("PATH", path_with(&bin))
        .args(["status", "--fleet", "fleet"])
        .assert()
        .code(3);
    let stdout = String::from_utf8_lossy(&a.get_output().stdout).into_owned();
    let rows: Vec<Vec<&str>> = stdout
        .lines()
        .map(|l| l.split_whitespace().collect())
        .collect();
    assert_eq!(rows[0], ["host", "ok", "summary"], "{stdout}");
    assert_eq!(rows.len(), 4, "{stdout}");
    assert!(
        stdout.contains("desk    yes   2 ok, 0 drift, 0 missing, 0 unknown"),
        "{stdout}"
    );
    assert!(
        stdout.contains("laptop  no    1 ok, 1 drift, 1 missing, 0 unknown"),
        "{stdout}"
    );
    let gw = stdout.lines().find(|l| l.starts_with("gw ")).unwrap();
    assert!(
        gw.contains("--") && gw.contains("no tabula JSON envelope"),
        "{gw}"
    );
    assert!(
        gw.contains("tabula: command not found") && gw.contains("127"),
        "{gw}"
    );
    // colmena ran once, in the rendered flake, with exactly this argv.
    let out = d.path().join("out").canonicalize().unwrap();
    assert!(out.join("flake.nix").is_file());
    assert_eq!(
        std::fs::read_to_string(&log).unwrap(),
        format!(
            "{}\nexec\n--on\ndesk,gw,laptop\n--\ntabula\nstatus\n--json\n",
            out.display()
        )
    );
    // --json: data.hosts, one per host, in fleet order.
    let a = tabula(d.path())
        .env("PATH", path_with(&bin))
        .args(["--json", "status", "--fleet", "fleet"])
        .assert()
        .code(3);
    let env: Value = serde_json::from_slice(&a.get_output().stdout).unwrap();
    assert_eq!(env["command"], "status");
    assert_eq!(env["ok"], false);
    let hosts = env["data"]["hosts"].as_array().unwrap();
    let names: Vec<&str> = hosts.iter().map(|h| h["host"].as_str().unwrap()).collect();
    // Fleet order: the specs' file names.
    assert_eq!(names, ["desk", "gw", "laptop"]);
    assert_eq!(hosts[0]["ok"], true);
    assert_eq!(hosts[0]["exit"], 0);
    assert_eq!(hosts[0]["data"]["items"].as_array().unwrap().len(), 2);
    assert!(hosts[0].get("error").is_none(), "{}", hosts[0]);
    assert_eq!(hosts[2]["ok"], false);
    assert_eq!(hosts[2]["exit"], 1);
    assert_eq!(hosts[2]["data"]["items"][1]["state"], "drift");
    assert_eq!(hosts[1]["ok"], false);
    assert_eq!(hosts[1]["exit"], 127);
    assert!(hosts[1].get("data").is_none(), "{}", hosts[1]);
    assert!(hosts[1]["error"]
        .as_str()
        .unwrap()
        .contains("no tabula JSON envelope"));
    // Only the ok and the drifting host: 1. Only the ok one: 0.
    for (on, code) in [("desk,laptop", 1), ("@home", 0)] {
        tabula(d.path())
            .env("PATH", path_with(&bin))
            .args(["status", "--fleet", "fleet", "--on", on])
            .assert()
            .code(code);
    }
}

#[test]
fn audit_fleet_dry_prints_the_command_and_colmena_missing_is_exit_4() {
    let d = fleet_dir();
    let (bin, log, canned) = fake_colmena_exec(d.path());
    fleet_with_answers(d.path(), &canned);
    let a = tabula(d.path())
        .env("PATH", path_with(&bin))
        .args(["audit", "--fleet", "fleet", "--on", "@laptop,gw", "--dry"])
        .assert()
        .success();
    let stdout = String::from_utf8_lossy(&a.get_output().stdout).into_owned();
    assert!(
        stdout
            .lines()
            .any(|l| l == "cd out && colmena exec --on gw,laptop -- tabula audit --json"),
        "{stdout}"
    );
    assert!(!log.exists(), "--dry ran colmena");
    assert!(!d.path().join("out").exists(), "--dry wrote the flake");
    let empty = d.path().join("empty-bin");
    std::fs::create_dir(&empty).unwrap();
    let a = tabula(d.path())
        .env("PATH", &empty)
        .args(["audit", "--fleet", "fleet"])
        .assert()
        .code(4);
    let err = String::from_utf8_lossy(&a.get_output().stderr).into_owned();
    assert!(err.contains("nix shell nixpkgs#colmena"), "{err}");
    // An audit answer: its summary counts lost files.
    let env = serde_json::to_string_pretty(&serde_json::json!({
        "tabula": 1, "command": "audit", "ok": false,
        "data": {"totals": {"lost": 3}, "groups": [{}, {}]},
        "findings": [], "error": {"code": "findings", "message": "x", "exit": 1}
    }))
    .unwrap();
    std::fs::write(canned.join("laptop.out"), format!("{env}\n")).unwrap();
    let a = tabula(d.path())
        .env("PATH", path_with(&bin))
        .args(["audit", "--fleet", "fleet", "--on", "laptop"])
        .assert()
        .code(1);
    let stdout = String::from_utf8_lossy(&a.get_output().stdout).into_owned();
    assert!(
        stdout.contains("laptop  no    3 lost file(s) in 2 group(s)"),
        "{stdout}"
    );
}

// --- deploy: each host's package diff (issue 13, item 2) -------------------

/// A fake `nix`: `nix build .#nixosConfigurations.NAME...` prints
/// `canned/NAME.new` (or fails with exit 1 when there is none, as a failed
/// build does); every call's argv (and NIX_SSHOPTS) goes to nix.log.
fn fake_nix(bin: &Path, canned: &Path, log: &Path) {
    let script = format!(
        r#"#!/bin/sh
printf '%s\n' "$PWD" >> '{log}'
for a in "$@"; do printf '%s\n' "$a" >> '{log}'; done
printf 'NIX_SSHOPTS=%s\n--\n' "$NIX_SSHOPTS" >> '{log}'
if [ "$1" = build ]; then
  name=$(printf '%s' "$2" | sed 's/^\.#nixosConfigurations\.//; s/\.config\.system\.build\.toplevel$//')
  if [ -f '{canned}'/$name.new ]; then cat '{canned}'/$name.new; exit 0; fi
  echo "error: builder for '/nix/store/x-$name.drv' failed with exit code 1" >&2
  exit 1
fi
"#,
        log = log.display(),
        canned = canned.display()
    );
    let p = bin.join("nix");
    std::fs::write(&p, script).unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o755)).unwrap();
}

/// Two real store paths, `hello-1.0` and `hello-1.1`, added to this
/// machine's Nix store (their closures are themselves).
fn two_systems(d: &Path) -> Option<(String, String)> {
    let add = |name: &str, text: &str| -> Option<String> {
        let dir = d.join(format!("sys-{name}"));
        std::fs::create_dir_all(&dir).unwrap();
        let f = dir.join(name);
        std::fs::write(&f, text).unwrap();
        let o = StdCommand::new("nix-store")
            .arg("--add")
            .arg(&f)
            .output()
            .ok()?;
        o.status
            .success()
            .then(|| String::from_utf8_lossy(&o.stdout).trim().to_owned())
    };
    Some((
        add("hello-1.0", "tabula deploy diff test: old\n")?,
        add("hello-1.1", "tabula deploy diff test: new, a bit bigger\n")?,
    ))
}

#[test]
fn deploy_shows_each_hosts_package_diff_or_why_not() {
    let test = "deploy_shows_each_hosts_package_diff_or_why_not";
    if !have_nix(test) {
        return;
    }
    let d = fleet_dir();
    let Some((old, new)) = two_systems(d.path()) else {
        println!("SKIP {test}: `nix-store --add` cannot write this machine's store");
        return;
    };
    let (bin, clog, canned) = fake_colmena_exec(d.path());
    let nlog = d.path().join("nix.log");
    fake_nix(&bin, &canned, &nlog);
    let gone = "/nix/store/00000000000000000000000000000000-nixos-system-laptop-24.05";
    let put = |n: &str, out: &str, code: i32| {
        std::fs::write(canned.join(format!("{n}.out")), format!("{out}\n")).unwrap();
        std::fs::write(canned.join(format!("{n}.code")), format!("{code}\n")).unwrap();
    };
    // desk runs `old` (in the local store), laptop a system that is not here.
    put("desk", &old, 0);
    put("laptop", gone, 0);
    std::fs::write(canned.join("desk.new"), format!("{new}\n")).unwrap();
    std::fs::write(canned.join("laptop.new"), format!("{new}\n")).unwrap();
    let a = tabula(d.path())
        .env("PATH", path_with(&bin))
        .args(["deploy", "--fleet", "fleet", "--on", "desk,laptop", "--yes"])
        .assert()
        .success();
    let stdout = String::from_utf8_lossy(&a.get_output().stdout).into_owned();
    // A real package line from tabula-nixos's closure diff.
    assert!(stdout.contains("↑ hello 1.0 → 1.1"), "{stdout}");
    assert!(stdout.contains("packages: 1 upgraded"), "{stdout}");
    assert!(
        stdout.contains(&format!(
            "the running system {gone} is not in this machine's store; pass --fetch-running"
        )) && stdout.contains(&format!("nix copy --from ssh://root@laptop.lan {gone}")),
        "{stdout}"
    );
    assert!(stdout.contains("deployed desk, laptop"), "{stdout}");
    // The exact commands: one colmena exec, one build per host, then apply.
    let out = d.path().join("out").canonicalize().unwrap();
    let o = out.display();
    assert_eq!(
        std::fs::read_to_string(&clog).unwrap(),
        format!(
            "{o}\nexec\n--on\ndesk,laptop\n--\nreadlink\n-f\n/run/current-system\n\
             {o}\napply\n--on\ndesk,laptop\n"
        )
    );
    let build = |n: &str| {
        format!(
            "{o}\nbuild\n.#nixosConfigurations.{n}.config.system.build.toplevel\n--no-link\n--print-out-paths\nNIX_SSHOPTS=\n--\n"
        )
    };
    assert_eq!(
        std::fs::read_to_string(&nlog).unwrap(),
        format!("{}{}", build("desk"), build("laptop"))
    );

    // --fetch-running: `nix copy` from the host (the fake copies nothing, so
    // laptop's diff fails: a row saying why, the deploy goes on). desk's
    // build fails: its row says so.
    std::fs::remove_file(&nlog).unwrap();
    std::fs::remove_file(canned.join("desk.new")).unwrap();
    let a = tabula(d.path())
        .env("PATH", path_with(&bin))
        .args([
            "--json",
            "deploy",
            "--fleet",
            "fleet",
            "--on",
            "desk,laptop",
            "--yes",
            "--fetch-running",
        ])
        .assert()
        .success();
    let env: Value = serde_json::from_slice(&a.get_output().stdout).unwrap();
    let h = &env["data"]["hosts"];
    assert!(
        h[0]["diff"]
            .as_str()
            .unwrap()
            .contains("building the new system failed"),
        "{h}"
    );
    assert_eq!(h[0]["running"], old.as_str());
    assert!(
        h[1]["diff"]
            .as_str()
            .unwrap()
            .starts_with("no package diff"),
        "{h}"
    );
    assert_eq!(h[1]["new"], new.as_str());
    assert_eq!(env["data"]["ran"], true);
    let nl = std::fs::read_to_string(&nlog).unwrap();
    assert!(
        nl.contains(&format!(
            "copy\n--from\nssh://root@laptop.lan\n{gone}\nNIX_SSHOPTS=\n--\n"
        )),
        "{nl}"
    );
    // With a diff: the JSON has tabula diff's packages.
    std::fs::write(canned.join("desk.new"), format!("{new}\n")).unwrap();
    let a = tabula(d.path())
        .env("PATH", path_with(&bin))
        .args([
            "--json", "deploy", "--fleet", "fleet", "--on", "desk", "--yes",
        ])
        .assert()
        .success();
    let env: Value = serde_json::from_slice(&a.get_output().stdout).unwrap();
    let p = &env["data"]["hosts"][0]["packages"]["packages"][0];
    assert_eq!(p["name"], "hello", "{env}");
    assert_eq!(p["change"], "upgraded", "{env}");
}

#[test]
fn deploy_dry_prints_the_diff_commands_and_no_diff_skips_them() {
    let d = fleet_dir();
    let (bin, clog, canned) = fake_colmena_exec(d.path());
    let nlog = d.path().join("nix.log");
    fake_nix(&bin, &canned, &nlog);
    let a = tabula(d.path())
        .env("PATH", path_with(&bin))
        .args([
            "deploy",
            "--fleet",
            "fleet",
            "--on",
            "desk,laptop",
            "--dry",
            "--fetch-running",
        ])
        .assert()
        .success();
    let stdout = String::from_utf8_lossy(&a.get_output().stdout).into_owned();
    let after: Vec<&str> = stdout
        .lines()
        .skip_while(|l| !l.starts_with("would run"))
        .skip(1)
        .collect();
    assert_eq!(
        after,
        [
            "cd out && colmena exec --on desk,laptop -- readlink -f /run/current-system",
            "cd out && nix build '.#nixosConfigurations.desk.config.system.build.toplevel' --no-link --print-out-paths",
            "cd out && nix build '.#nixosConfigurations.laptop.config.system.build.toplevel' --no-link --print-out-paths",
            "NIX_SSHOPTS='-p 2222' nix copy --from ssh://admin@desk.lan RUNNING",
            "nix copy --from ssh://root@laptop.lan RUNNING",
            "cd out && colmena apply --on desk,laptop",
        ],
        "{stdout}"
    );
    assert!(!clog.exists() && !nlog.exists(), "--dry ran something");
    // --no-diff: no diff command, printed or run.
    let a = tabula(d.path())
        .env("PATH", path_with(&bin))
        .args([
            "--json",
            "deploy",
            "--fleet",
            "fleet",
            "--on",
            "desk",
            "--dry",
            "--no-diff",
        ])
        .assert()
        .success();
    let env: Value = serde_json::from_slice(&a.get_output().stdout).unwrap();
    assert_eq!(env["data"]["diff_commands"], serde_json::json!([]));
    assert!(env["data"]["hosts"][0]["diff"]
        .as_str()
        .unwrap()
        .contains("--no-diff"));
    // (the fake's apply prints desk's canned lines: none)
    std::fs::write(canned.join("desk.out"), "").unwrap();
    std::fs::write(canned.join("desk.code"), "0\n").unwrap();
    tabula(d.path())
        .env("PATH", path_with(&bin))
        .args([
            "deploy",
            "--fleet",
            "fleet",
            "--on",
            "desk",
            "--yes",
            "--no-diff",
        ])
        .assert()
        .success();
    assert!(!nlog.exists(), "--no-diff ran nix");
    let o = d.path().join("out").canonicalize().unwrap();
    assert_eq!(
        std::fs::read_to_string(&clog).unwrap(),
        format!("{}\napply\n--on\ndesk\n", o.display())
    );
}
