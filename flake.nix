# tabula itself, for Nix users and the NixOS installer:
#
#   nix run github:OWNER/tabula -- plan --disk /dev/nvme0n1
#   nix profile install github:OWNER/tabula
#   nix develop            # cargo, rustc, clippy, rustfmt and the disk tools
#
# The package is built from Cargo.lock (no network in the build); its tests
# need root, loop devices and a Nix store, so they run in CI (ci/test.sh), not
# in the sandbox. The binary finds the disk tools it runs (cryptsetup, sgdisk,
# mkfs.*, btrfs, ...) on its PATH: the wrapper puts the nixpkgs ones first.
{
  description = "tabula: makes a declarative, impermanent NixOS host real from one host spec";

  inputs.nixpkgs.url = "github:NixOS/nixpkgs/nixos-26.05";

  outputs = { self, nixpkgs }:
    let
      system = "x86_64-linux";
      pkgs = nixpkgs.legacyPackages.${system};
      lib = nixpkgs.lib;
      cargoToml = builtins.fromTOML (builtins.readFile ./Cargo.toml);

      # What tabula runs (tabula_run::Cmd): partitioning, filesystems, LUKS,
      # loop devices and mounts.
      runtimeTools = with pkgs; [
        cryptsetup
        btrfs-progs
        gptfdisk # sgdisk
        util-linux # sfdisk, losetup, partx, blkid, wipefs, mount
        dosfstools # mkfs.vfat
        e2fsprogs # mkfs.ext4
        coreutils # sync, timeout
      ];

      tabula = pkgs.rustPlatform.buildRustPackage {
        pname = "tabula";
        version = cargoToml.workspace.package.version;
        src = lib.cleanSourceWith {
          src = ./.;
          # Only what the build reads: no target/, no docs, no CI.
          filter = path: type:
            let rel = lib.removePrefix (toString ./. + "/") (toString path);
            in rel == "Cargo.toml" || rel == "Cargo.lock" || rel == "crates"
              || lib.hasPrefix "crates/" rel;
        };
        cargoLock.lockFile = ./Cargo.lock;
        cargoBuildFlags = [ "-p" "tabula" ];
        # The tests need root, loop devices and a Nix store: ci/test.sh runs them.
        doCheck = false;
        nativeBuildInputs = [ pkgs.makeWrapper pkgs.installShellFiles ];
        postInstall = ''
          $out/bin/tabula man --out $out/share/man/man1 > /dev/null
          installShellCompletion --cmd tabula \
            --bash <($out/bin/tabula completions bash) \
            --zsh <($out/bin/tabula completions zsh) \
            --fish <($out/bin/tabula completions fish)
          wrapProgram $out/bin/tabula --prefix PATH : ${lib.makeBinPath runtimeTools}
        '';
        meta = {
          description = "Makes a declarative, impermanent NixOS host real from one host spec";
          license = with lib.licenses; [ mit asl20 ];
          mainProgram = "tabula";
          platforms = [ system ];
        };
      };
    in
    {
      packages.${system} = {
        default = tabula;
        inherit tabula;
      };

      apps.${system}.default = {
        type = "app";
        program = "${tabula}/bin/tabula";
      };

      devShells.${system}.default = pkgs.mkShell {
        packages = (with pkgs; [ cargo rustc clippy rustfmt ]) ++ runtimeTools;
      };

      formatter.${system} = pkgs.nixpkgs-fmt;
    };
}
