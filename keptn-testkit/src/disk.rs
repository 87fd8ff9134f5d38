//! Tiny tmpfs mounts for disk faults: full and read-only file systems under a test's files.

use std::fs::{self, File};
use std::io::{ErrorKind, Write};
use std::path::{Path, PathBuf};
use std::process::Command;

use tempfile::TempDir;

/// The file [`Tmpfs::fill`] writes to use up the space.
const FILLER: &str = ".filler";

/// Prints why a test is skipped, visibly (`cargo test` shows it with `--nocapture`, and in
/// the output of a failing run), and returns `None` so a test can `let … else { return }`.
pub fn skip<T>(test: &str, why: &str) -> Option<T> {
    eprintln!("SKIPPED {test}: {why}");
    None
}

/// A tmpfs of a few KB mounted on a fresh temporary directory for one test, unmounted when
/// dropped. Mounting needs root (or `CAP_SYS_ADMIN`) and the `mount` program.
///
/// A full disk: write what the test needs, then [`fill`](Self::fill) the rest and watch the
/// next write fail with `ENOSPC`; [`free`](Self::free) gives the space back. A read-only disk:
/// [`read_only`](Self::read_only) remounts it so every write fails with `EROFS` (root's
/// permission override does not help, unlike a `chmod 0555` directory).
#[derive(Debug)]
pub struct Tmpfs {
    dir: TempDir,
}

impl Tmpfs {
    /// Mounts a tmpfs of `kib` KiB (rounded up to pages by the kernel).
    ///
    /// # Errors
    /// Why it could not be mounted (not root, no `mount`, a container without the
    /// capability); tests print it through [`skip`] and pass.
    pub fn mount(kib: u32) -> Result<Self, String> {
        let dir = tempfile::Builder::new()
            .prefix("keptn-tmpfs-")
            .tempdir()
            .map_err(|e| format!("cannot create a mount point: {e}"))?;
        run(Command::new("mount")
            .args(["-t", "tmpfs", "-o"])
            .arg(format!("size={kib}k,mode=0755"))
            .arg("tmpfs")
            .arg(dir.path()))?;
        Ok(Self { dir })
    }

    /// The mounted directory.
    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    /// Fills the remaining space with a filler file; afterwards a write of even one block
    /// fails with `ENOSPC`. Returns how many bytes the filler holds.
    ///
    /// # Errors
    /// An I/O error other than a full disk.
    pub fn fill(&self) -> std::io::Result<u64> {
        let mut file = File::create(self.filler())?;
        let block = [0u8; 1024];
        let mut written = 0u64;
        loop {
            match file.write(&block) {
                Ok(0) => break,
                Ok(n) => written += n as u64,
                Err(e) if is_full(&e) => break,
                Err(e) => return Err(e),
            }
        }
        // the last partial block can leave a few bytes free: use them too
        loop {
            match file.write(&block[..1]) {
                Ok(0) => break,
                Ok(n) => written += n as u64,
                Err(e) if is_full(&e) => break,
                Err(e) => return Err(e),
            }
        }
        Ok(written)
    }

    /// Deletes the filler file: the space is free again.
    ///
    /// # Errors
    /// When it cannot be deleted (for instance on a read-only mount).
    pub fn free(&self) -> std::io::Result<()> {
        match fs::remove_file(self.filler()) {
            Err(e) if e.kind() == ErrorKind::NotFound => Ok(()),
            other => other,
        }
    }

    /// Remounts the file system read-only: every write below [`path`](Self::path) fails.
    ///
    /// # Errors
    /// When `mount -o remount,ro` fails.
    pub fn read_only(&self) -> Result<(), String> {
        self.remount("ro")
    }

    /// Remounts the file system writable again.
    ///
    /// # Errors
    /// When `mount -o remount,rw` fails.
    pub fn writable(&self) -> Result<(), String> {
        self.remount("rw")
    }

    fn remount(&self, mode: &str) -> Result<(), String> {
        run(Command::new("mount")
            .args(["-o", &format!("remount,{mode}")])
            .arg(self.path()))
    }

    fn filler(&self) -> PathBuf {
        self.path().join(FILLER)
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        // lazy: a file still open in the test does not keep the mount around
        let _ = run(Command::new("umount").arg("-l").arg(self.path()));
    }
}

/// Whether `e` says the disk is full.
pub(crate) fn is_full(e: &std::io::Error) -> bool {
    e.kind() == ErrorKind::StorageFull || e.raw_os_error() == Some(28)
}

fn run(command: &mut Command) -> Result<(), String> {
    match command.output() {
        Ok(out) if out.status.success() => Ok(()),
        Ok(out) => Err(format!(
            "`{command:?}` failed ({}): {}",
            out.status,
            String::from_utf8_lossy(&out.stderr).trim()
        )),
        Err(e) => Err(format!("cannot run `{command:?}`: {e}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_filled_tmpfs_refuses_writes_until_freed_and_a_read_only_one_always() {
        let disk = match Tmpfs::mount(16) {
            Ok(d) => d,
            Err(why) => {
                skip::<()>("tmpfs", &why);
                return;
            }
        };
        let file = disk.path().join("a");
        fs::write(&file, b"before").unwrap();
        assert!(disk.fill().unwrap() > 0);
        let err = fs::write(disk.path().join("b"), [1u8; 8192]).unwrap_err();
        assert!(is_full(&err), "{err}");
        disk.free().unwrap();
        fs::write(disk.path().join("b"), [1u8; 4096]).unwrap();
        disk.read_only().unwrap();
        let err = fs::write(&file, b"after").unwrap_err();
        assert_eq!(err.raw_os_error(), Some(30), "{err}"); // EROFS
        assert_eq!(fs::read(&file).unwrap(), b"before");
        disk.writable().unwrap();
        fs::write(&file, b"after").unwrap();
    }
}
