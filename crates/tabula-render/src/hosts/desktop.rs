//! # desktop.nix: SDDM and the sessions
//!
//! The traps real NixOS sets, each handled here:
//! - a package in `services.displayManager.sessionPackages` must carry
//!   `passthru.providedSessions` (the module's type checks it);
//! - unfree packages (Brave) are allowed by name with
//!   `nixpkgs.config.allowUnfreePredicate`, never globally;
//! - Plasma 6 and GNOME both set `programs.ssh.askPassword` with `mkDefault`
//!   (a `types.str`, so two different values conflict): with both enabled
//!   KDE's is forced. Read in NixOS/nixpkgs: plasma6.nix
//!   (nixos/modules/services/desktop-managers/plasma6.nix @ 01f01ea7) sets
//!   `programs.ssh.askPassword = mkDefault ".../bin/ksshaskpass"`; gnome.nix
//!   (nixos/modules/services/desktop-managers/gnome.nix @ 5584692b) enables
//!   `programs.seahorse` (mkDefault true, core-apps), and
//!   nixos/modules/programs/seahorse.nix (@ d78a7d5f) sets
//!   `programs.ssh.askPassword = mkDefault ".../seahorse/ssh-askpass"`.
//!   Nothing else the two set collides: `programs.gnupg.agent.pinentryPackage`
//!   is set only by Plasma (mkDefault pinentry-qt; gnome.nix does not set it),
//!   `services.displayManager.defaultSession` only by Plasma (mkDefault), GNOME
//!   adds to the list `sessionPackages`, neither sets `qt.platformTheme`
//!   (Plasma sets `qt.enable = true`, GNOME nothing under `qt`), and the
//!   shared `mkDefault true` switches (power-profiles-daemon, orca, bluetooth)
//!   agree. So only askPassword is forced;
//! - Openbox is an X11 session: it needs `services.xserver.enable`.

use tabula_spec::model::{Desktop, Session, SessionKind};
use tabula_spec::KeyPath;

use super::{header, Ctx};
use crate::escape::{
    desktop_list_item, desktop_string, desktop_string_inner, exec_arg, exec_arg_body,
    exec_needs_quotes,
};
use crate::nix::{self, force, pkg, raw, s, strs, AttrsBuilder, Expr, Part};
use crate::RenderError;

/// A session id names a file and a session: letters, digits, `.`, `_`, `-`.
fn check_id(at: KeyPath, id: &str) -> Result<(), RenderError> {
    let ok = !id.is_empty()
        && !id.starts_with('.')
        && id
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'));
    if ok {
        Ok(())
    } else {
        Err(RenderError::bad(
            at,
            id,
            "a session id",
            "the id names share/wayland-sessions/ID.desktop: use letters, digits, `.`, `_` and `-`",
        ))
    }
}

/// The `.desktop` text of a cage session, as Nix string parts (the store
/// paths are interpolations).
fn session_text(
    sess: &Session,
    at: &KeyPath,
    configured_waydroid: bool,
) -> Result<Vec<Part>, RenderError> {
    let (Some(package), Some(program)) = (&sess.package, &sess.program) else {
        return Err(RenderError::missing(
            at.clone(),
            "a cage session needs `package` and `program`",
        ));
    };
    if program.is_empty() {
        return Err(RenderError::missing(
            at.key("program"),
            "`program` is empty",
        ));
    }
    let mut head = format!("[Desktop Entry]\nName={}\n", desktop_string(&sess.name));
    if let Some(c) = &sess.comment {
        head.push_str(&format!("Comment={}\n", desktop_string(c)));
    }
    head.push_str("Exec=");
    let prog = format!("/{}", program.trim_start_matches('/'));
    let quoted = exec_needs_quotes(&prog);
    let mut parts = vec![
        Part::Lit(head),
        Part::Interp(pkg("cage")),
        Part::Lit(format!(
            "/bin/cage -s -- {}",
            if quoted { "\"" } else { "" }
        )),
        // Waydroid runs the package the module configures (25.11 on:
        // waydroid-nftables when nftables is on), not pkgs.waydroid.
        Part::Interp(if configured_waydroid && package == "waydroid" {
            raw("config.virtualisation.waydroid.package")
        } else {
            pkg(package)
        }),
    ];
    let mut tail = desktop_string_inner(&exec_arg_body(&prog, quoted));
    if quoted {
        tail.push('"');
    }
    for a in &sess.args {
        tail.push(' ');
        tail.push_str(&desktop_string_inner(&exec_arg(a)));
    }
    tail.push_str("\nType=Application\n");
    if let Some(d) = &sess.desktop_names {
        tail.push_str(&format!("DesktopNames={}\n", desktop_list_item(d)));
    }
    parts.push(Part::Lit(tail));
    Ok(parts)
}

/// `(pkgs.writeTextDir "share/wayland-sessions/ID.desktop" "...").overrideAttrs
/// (old: { passthru = ... // { providedSessions = [ "ID" ]; }; })`.
fn session_package(
    sess: &Session,
    at: &KeyPath,
    configured_waydroid: bool,
) -> Result<Expr, RenderError> {
    let text = session_text(sess, at, configured_waydroid)?;
    let drv = nix::apply(
        "pkgs.writeTextDir",
        [
            s(format!("share/wayland-sessions/{}.desktop", sess.id)),
            Expr::Str(text),
        ],
    );
    let mut passthru = AttrsBuilder::new();
    passthru.set("providedSessions", strs([&sess.id]));
    let mut attrs = AttrsBuilder::new();
    attrs.set(
        "passthru",
        Expr::Update(
            Box::new(Expr::Paren(Box::new(raw("old.passthru or { }")))),
            Box::new(passthru.build()),
        ),
    );
    Ok(Expr::Apply(
        Box::new(Expr::Select(
            Box::new(Expr::Paren(Box::new(drv))),
            vec!["overrideAttrs".into()],
        )),
        vec![Expr::Lambda("old".into(), Box::new(attrs.build()))],
    ))
}

/// The session name NixOS's display manager knows a session by.
fn session_name(sess: &Session) -> String {
    match sess.kind {
        SessionKind::Plasma6 => "plasma".into(),
        SessionKind::Gnome => "gnome".into(),
        SessionKind::Openbox => "none+openbox".into(),
        SessionKind::Cage => sess.id.clone(),
    }
}

pub(crate) fn desktop(cx: &Ctx) -> Result<String, RenderError> {
    let spec = cx.spec;
    let mut b = AttrsBuilder::new();
    let Some(d) = &spec.desktop else {
        return Ok(nix::module(
            &header(spec, "Desktop: none declared."),
            &[],
            &[],
            b.build(),
        ));
    };
    let dat = KeyPath::root().key("desktop");
    if d.display_manager != "sddm" {
        return Err(RenderError::bad(
            dat.key("display_manager"),
            &d.display_manager,
            "a display manager",
            "tabula renders only \"sddm\"",
        ));
    }
    b.set("services.displayManager.sddm.enable", Expr::Bool(true));
    if d.wayland {
        b.set(
            "services.displayManager.sddm.wayland.enable",
            Expr::Bool(true),
        );
    }
    let (packages, unfree, waydroid) = cage_sessions(cx, d, &dat)?;
    if let Some(def) = &d.default_session {
        let Some(sess) = d.sessions.iter().find(|s| &s.id == def) else {
            return Err(RenderError::missing(
                dat.key("default_session"),
                format!("no session has the id `{def}`"),
            ));
        };
        b.set(
            "services.displayManager.defaultSession",
            s(session_name(sess)),
        );
    }
    if !packages.is_empty() {
        b.set(
            "services.displayManager.sessionPackages",
            nix::list(packages),
        );
        b.comment(
            "each package carries passthru.providedSessions, which the option's type requires",
        );
    }
    managers(&mut b, cx, d);
    if waydroid {
        b.set("virtualisation.waydroid.enable", Expr::Bool(true));
        b.comment("the Waydroid session's container");
    }
    if !unfree.is_empty() {
        b.set(
            "nixpkgs.config.allowUnfreePredicate",
            Expr::Lambda(
                "pkg".into(),
                Box::new(nix::apply(
                    "builtins.elem",
                    [nix::apply("lib.getName", [raw("pkg")]), strs(&unfree)],
                )),
            ),
        );
        b.comment("unfree packages allowed by name, not globally");
    }
    let args: &[&str] = if waydroid && cx.names.has_waydroid_package {
        &["config", "lib", "pkgs"]
    } else {
        &["lib", "pkgs"]
    };
    Ok(nix::module(
        &header(spec, "Desktop: SDDM and the sessions."),
        args,
        &[],
        b.build(),
    ))
}

/// The cage sessions' packages (with their names as comments), the
/// unfree package names to allow, and whether Waydroid is one of them.
fn cage_sessions(
    cx: &Ctx,
    d: &Desktop,
    dat: &KeyPath,
) -> Result<(Vec<Expr>, Vec<String>, bool), RenderError> {
    let mut packages = Vec::new();
    let mut unfree: Vec<String> = Vec::new();
    let mut waydroid = false;
    for (i, sess) in d.sessions.iter().enumerate() {
        let at = dat.index("session", i);
        check_id(at.key("id"), &sess.id)?;
        if sess.kind == SessionKind::Cage {
            packages.push(Expr::Commented(
                sess.name.clone(),
                Box::new(session_package(sess, &at, cx.names.has_waydroid_package)?),
            ));
            if let Some(p) = &sess.package {
                // lib.getName gives the package's pname: the attribute's last component.
                let name = p.rsplit('.').next().unwrap_or(p).to_owned();
                if sess.unfree && !unfree.contains(&name) {
                    unfree.push(name);
                }
                waydroid |= p == "waydroid";
            }
        }
    }
    Ok((packages, unfree, waydroid))
}

/// The desktop managers the sessions need, and the options they fight over.
fn managers(b: &mut AttrsBuilder, cx: &Ctx, d: &Desktop) {
    let has = |k: SessionKind| d.sessions.iter().any(|s| s.kind == k);
    if has(SessionKind::Plasma6) {
        b.set("services.desktopManager.plasma6.enable", Expr::Bool(true));
    }
    if has(SessionKind::Gnome) {
        b.set(&format!("{}.enable", cx.names.gnome), Expr::Bool(true));
    }
    if has(SessionKind::Plasma6) && has(SessionKind::Gnome) {
        b.set(
            "programs.ssh.askPassword",
            force(Expr::Str(vec![
                Part::Interp(pkg("kdePackages.ksshaskpass")),
                Part::Lit("/bin/ksshaskpass".into()),
            ])),
        );
        b.comment(
            "Plasma 6 (plasma6.nix) and GNOME (seahorse.nix, enabled by gnome.nix) both set this with mkDefault: the one real conflict, so KDE's is forced",
        );
    }
    if has(SessionKind::Openbox) {
        b.set("services.xserver.enable", Expr::Bool(true));
        b.comment("Openbox is an X11 session");
        b.set(
            "services.xserver.windowManager.openbox.enable",
            Expr::Bool(true),
        );
    }
}
