//! # secrets.nix (issue 13): agenix decrypts `secrets/NAME.age` at activation
//!
//! Only rendered when the spec has a `[secrets]` table that names a secret;
//! a host without one renders byte for byte as before. The `.age` files sit
//! in the flake's own `secrets/` folder (`tabula render` copies them from
//! the store next to the spec), so the module refers to them as
//! `../../secrets/NAME.age`, inside the flake (a path outside it is not
//! available to pure evaluation).

use tabula_spec::model::secret_name;
use tabula_spec::{HostSpec, KeyPath};

use super::{header, Ctx};
use crate::nix::{self, raw, strs, AttrsBuilder, Expr};
use crate::RenderError;

/// The file name of the module, imported after users.nix.
pub(crate) const MODULE: &str = "secrets.nix";

/// Whether this host renders secrets.nix (and the agenix input).
pub(crate) fn enabled(spec: &HostSpec) -> bool {
    spec.secrets
        .as_ref()
        .is_some_and(|s| !s.all_names().is_empty())
}

/// `config.age.secrets.NAME.path`, for `hashedPasswordFile`.
pub(crate) fn path_of(name: &str) -> Expr {
    Expr::Select(
        Box::new(raw("config.age.secrets")),
        vec![name.to_owned(), "path".into()],
    )
}

pub(crate) fn secrets(cx: &Ctx) -> Result<String, RenderError> {
    let spec = cx.spec;
    let mut b = AttrsBuilder::new();
    let Some(sc) = &spec.secrets else {
        return Err(RenderError::missing("secrets", "no [secrets] table"));
    };
    b.set("age.identityPaths", strs([sc.identity.as_str()]));
    b.comment(
        "the persisted key itself: agenix runs in activation, while /etc's bind mounts are still being made (impermanence#282, agenix#219)",
    );
    for name in sc.all_names() {
        secret_name(&name).map_err(|why| {
            RenderError::bad(KeyPath::root().key("secrets"), &name, "a secret name", why)
        })?;
        b.set_path(
            vec!["age".into(), "secrets".into(), name.clone(), "file".into()],
            raw(format!("../../secrets/{name}.age")),
        );
    }
    Ok(nix::module(
        &header(
            spec,
            "Secrets: age files decrypted by agenix with the host's SSH key (`tabula secret`).",
        ),
        &[],
        &[],
        b.build(),
    ))
}
