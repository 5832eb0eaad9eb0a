//! # `status`, `rebuild`, `generations`, `diff`, `place`
//! (placeholder: the day-two issue fills this in)

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
    StatusArgs / status: "The live host (or a mounted layout) against its spec",
    RebuildArgs / rebuild: "check, build, switch, boot, test or roll back the system",
    GenerationsArgs / generations: "List the system generations",
    DiffArgs / diff: "Packages and size changed between two generations",
    PlaceArgs / place: "Where should this software run? The document's decision tree",
}
