//! Encrypted backups: the archive cut into 1 MiB chunks, each sealed to the operator's x25519 public key with
//! the same sealed box the federation uses for reporter identities (`lapor_federation::seal`: X25519, HKDF-SHA256,
//! ChaCha20-Poly1305). Each chunk's associated data binds the backup's random id, the chunk's index and whether it
//! is the last, so chunks cannot be reordered, swapped between backups, dropped or cut off without the restore
//! noticing.
//!
//! ```text
//! LAPOR-BACKUP-SEALED 1\n  16 bytes backup id  32 bytes recipient public key
//! { u32 big-endian length, sealed chunk }*      (the last chunk is marked in its associated data)
//! ```

use std::io::{self, Read, Write};

use anyhow::{bail, Context as _};
use lapor_federation::seal::{self, EncryptionSecret};
use rand::RngCore as _;

/// First line of an encrypted backup.
pub const MAGIC: &[u8] = b"LAPOR-BACKUP-SEALED 1\n";
const CHUNK: usize = 1 << 20;
const MAX_SEALED: usize = CHUNK + 1024;

fn aad(id: &[u8; 16], index: u64, last: bool) -> Vec<u8> {
    let mut a = b"lapor-backup-v1".to_vec();
    a.extend_from_slice(id);
    a.extend_from_slice(&index.to_be_bytes());
    a.push(u8::from(last));
    a
}

/// Encrypts everything written to it into `inner`; call [`SealWriter::finish`] at the end.
pub struct SealWriter<W: Write> {
    inner: W,
    recipient: [u8; 32],
    id: [u8; 16],
    index: u64,
    buf: Vec<u8>,
}

impl<W: Write> SealWriter<W> {
    /// Starts an encrypted stream to `recipient` (an x25519 public key).
    pub fn new(mut inner: W, recipient: [u8; 32]) -> io::Result<Self> {
        let mut id = [0u8; 16];
        rand::rngs::OsRng.fill_bytes(&mut id);
        inner.write_all(MAGIC)?;
        inner.write_all(&id)?;
        inner.write_all(&recipient)?;
        Ok(Self {
            inner,
            recipient,
            id,
            index: 0,
            buf: Vec::with_capacity(CHUNK),
        })
    }

    fn emit(&mut self, last: bool) -> io::Result<()> {
        let sealed = seal::seal(&self.recipient, &self.buf, &aad(&self.id, self.index, last))
            .map_err(|e| io::Error::other(format!("sealing the backup: {e:?}")))?;
        self.inner.write_all(&(sealed.len() as u32).to_be_bytes())?;
        self.inner.write_all(&sealed)?;
        self.index += 1;
        self.buf.clear();
        Ok(())
    }

    /// Seals the last chunk and returns the inner writer.
    pub fn finish(mut self) -> io::Result<W> {
        self.emit(true)?;
        self.inner.flush()?;
        Ok(self.inner)
    }
}

impl<W: Write> Write for SealWriter<W> {
    fn write(&mut self, data: &[u8]) -> io::Result<usize> {
        let room = CHUNK - self.buf.len();
        let n = room.min(data.len());
        self.buf.extend_from_slice(&data[..n]);
        if self.buf.len() == CHUNK {
            self.emit(false)?;
        }
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// Decrypts a stream made by [`SealWriter`] (its magic already read by the caller).
pub struct OpenReader<R: Read> {
    inner: R,
    secret: EncryptionSecret,
    id: [u8; 16],
    index: u64,
    buf: Vec<u8>,
    pos: usize,
    done: bool,
}

impl<R: Read> OpenReader<R> {
    /// Reads the header after the magic; fails naming both keys when the backup was sealed to another one.
    pub fn new(mut inner: R, secret: EncryptionSecret) -> anyhow::Result<Self> {
        let mut id = [0u8; 16];
        let mut recipient = [0u8; 32];
        inner
            .read_exact(&mut id)
            .and_then(|()| inner.read_exact(&mut recipient))
            .context("the encrypted backup is cut off in its header")?;
        if recipient != secret.public() {
            bail!(
                "this backup is encrypted to key {} but the key file is for {} / cadangan ini dienkripsi \
                 untuk kunci lain",
                hex::encode(recipient),
                hex::encode(secret.public())
            );
        }
        Ok(Self {
            inner,
            secret,
            id,
            index: 0,
            buf: Vec::new(),
            pos: 0,
            done: false,
        })
    }

    fn next_chunk(&mut self) -> io::Result<()> {
        let mut len = [0u8; 4];
        self.inner.read_exact(&mut len).map_err(|_| {
            io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "the encrypted backup is cut off (its last chunk is missing)",
            )
        })?;
        let len = u32::from_be_bytes(len) as usize;
        if len > MAX_SEALED {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                "the encrypted backup is damaged (a chunk is too long)",
            ));
        }
        let mut sealed = vec![0u8; len];
        self.inner.read_exact(&mut sealed)?;
        for last in [false, true] {
            if let Ok(plain) = seal::open(&self.secret, &sealed, &aad(&self.id, self.index, last)) {
                self.buf = plain;
                self.pos = 0;
                self.index += 1;
                self.done = last;
                return Ok(());
            }
        }
        Err(io::Error::new(
            io::ErrorKind::InvalidData,
            format!(
                "the encrypted backup is damaged or altered (chunk {} does not open)",
                self.index
            ),
        ))
    }
}

impl<R: Read> Read for OpenReader<R> {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        while self.pos == self.buf.len() {
            if self.done {
                return Ok(0);
            }
            self.next_chunk()?;
        }
        let n = out.len().min(self.buf.len() - self.pos);
        out[..n].copy_from_slice(&self.buf[self.pos..self.pos + n]);
        self.pos += n;
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn sealed(data: &[u8], to: [u8; 32]) -> Vec<u8> {
        let mut w = SealWriter::new(Vec::new(), to).unwrap();
        w.write_all(data).unwrap();
        w.finish().unwrap()
    }

    fn opened(file: &[u8], key: EncryptionSecret) -> anyhow::Result<Vec<u8>> {
        assert_eq!(&file[..MAGIC.len()], MAGIC);
        let mut r = OpenReader::new(&file[MAGIC.len()..], key)?;
        let mut out = Vec::new();
        r.read_to_end(&mut out)?;
        Ok(out)
    }

    #[test]
    fn round_trips_and_refuses_tampering_truncation_and_other_keys() {
        let key = EncryptionSecret::generate();
        let data: Vec<u8> = (0..(CHUNK * 2 + 17)).map(|i| (i % 251) as u8).collect();
        let file = sealed(&data, key.public());
        let secret = || EncryptionSecret::from_bytes(key.to_bytes());
        assert_eq!(opened(&file, secret()).unwrap(), data);
        assert!(!file.windows(64).any(|w| w == &data[1000..1064]));

        let mut flipped = file.clone();
        let at = flipped.len() / 2;
        flipped[at] ^= 1;
        assert!(opened(&flipped, secret()).is_err());

        // Cut after the first whole chunk: the missing last chunk is noticed.
        let first_len =
            u32::from_be_bytes(file[MAGIC.len() + 48..MAGIC.len() + 52].try_into().unwrap());
        let cut = MAGIC.len() + 48 + 4 + first_len as usize;
        let err = opened(&file[..cut], secret()).unwrap_err().to_string();
        assert!(err.contains("cut off"), "{err}");

        let err = opened(&file, EncryptionSecret::generate())
            .unwrap_err()
            .to_string();
        assert!(err.contains("encrypted to key"), "{err}");

        assert_eq!(opened(&sealed(b"", key.public()), secret()).unwrap(), b"");
    }
}
