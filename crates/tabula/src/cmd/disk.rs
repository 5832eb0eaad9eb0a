//! # `plan`, `apply`, `mount`, `unmount`, `install`, `keyfile`
//! (placeholder: the provisioning issue fills this in)

use clap::Args;

use crate::ctx::Ctx;

macro_rules! pending {
    ($($name:ident / $fn:ident: $doc:literal),* $(,)?) => {$(
        #[doc = $doc]
        #[derive(Debug, Args)]
        pub struct $name {}
        pub fn $fn(_: &$name, _: &Ctx) -> anyhow::Result<u8> {
            anyhow::bail!(concat!("`", stringify!($fn), "` is not implemented yet"))
        }
    )*};
}

pending! {
    PlanArgs / plan: "Show what apply would do to a disk (never writes)",
    ApplyArgs / apply: "Partition, format and fill a disk to match the spec",
    MountArgs / mount: "Open the LUKS container and mount the whole layout",
    UnmountArgs / unmount: "Unmount the layout and close the LUKS container",
    InstallArgs / install: "apply + mount + render the flake + nixos-install",
    KeyfileArgs / keyfile: "Add, replace or remove the USB keyfile's key slot",
}
