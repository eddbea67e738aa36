//! The answers a citizen receives by SMS, in Indonesian (the SMS channel's citizens read Indonesian; an
//! English second half would not fit in one SMS). Every answer is GSM-7 text: the confirmation of a new
//! report fits in one SMS (160 characters) and nothing ever takes more than three parts, which is what the
//! shipped Kannel `sms-service` (`max-messages = 3`, `concatenation = true`) sends back.

use std::fmt::Write as _;

/// Characters of one SMS in GSM-7.
pub const SINGLE: usize = 160;
/// Characters of one part of a concatenated SMS in GSM-7.
pub const PART: usize = 153;
/// Most parts of an answer.
pub const MAX_PARTS: usize = 3;

const BASIC: &str = "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà";
const EXTENSION: &str = "^{}\\[~]|€";

/// Septets `s` takes in GSM-7, `None` when a character has no GSM-7 form.
pub fn gsm7_len(s: &str) -> Option<usize> {
    s.chars().try_fold(0, |n, c| {
        if BASIC.contains(c) {
            Some(n + 1)
        } else if EXTENSION.contains(c) {
            Some(n + 2)
        } else {
            None
        }
    })
}

/// Parts an answer of `septets` takes.
pub fn parts(septets: usize) -> usize {
    if septets <= SINGLE {
        1
    } else {
        septets.div_ceil(PART)
    }
}

/// `s` in GSM-7: common typographic characters replaced, anything else without a GSM-7 form dropped.
pub fn to_gsm7(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '…' => out.push_str("..."),
            '‘' | '’' | '`' | '´' => out.push('\''),
            '“' | '”' => out.push('"'),
            '–' | '—' => out.push('-'),
            '\t' => out.push(' '),
            c if gsm7_len(c.encode_utf8(&mut [0; 4])).is_some() => out.push(c),
            c if c.is_whitespace() => out.push(' '),
            _ => {}
        }
    }
    out
}

/// `s` cut (at a word, with `...`) so that the whole answer fits in `MAX_PARTS` parts.
fn fit(s: &str, budget: usize) -> String {
    let s = to_gsm7(s);
    if gsm7_len(&s).unwrap_or(usize::MAX) <= budget {
        return s;
    }
    let mut out = String::new();
    for word in s.split(' ') {
        let next = if out.is_empty() {
            word.to_owned()
        } else {
            format!("{out} {word}")
        };
        if gsm7_len(&next).unwrap_or(usize::MAX) + 3 > budget {
            break;
        }
        out = next;
    }
    out.push_str("...");
    out
}

/// What the answers need to know about this node.
#[derive(Debug, Clone)]
pub struct Texts {
    /// The short number (`1708`).
    pub number: String,
    /// An example keyword for the hints (the node's, else `KATAKUNCI`).
    pub example_keyword: String,
    /// Where the tracking page is (`https://lapor.kupangkota.go.id/track`), or a name.
    pub track_at: String,
}

impl Texts {
    /// A new report: its code and how to follow it. No secret: the number that sent it is the proof.
    pub fn filed(&self, code: &str) -> String {
        let n = &self.number;
        format!("LAPOR! diterima. Kode: {code}. Cek status: CEK {code} ke {n}. Tambah info: {code} <pesan> ke {n}.")
    }

    /// A new anonymous report: the number is not kept, so the code and the secret are what it is followed
    /// with, on the tracking page.
    pub fn filed_anonymous(&self, code: &str, secret: &str) -> String {
        format!(
            "LAPOR! anonim diterima. Kode: {code} Rahasia: {secret}. Nomor Anda tidak disimpan; simpan SMS ini dan ikuti di {}.",
            self.track_at
        )
    }

    /// The status of a report, with the officer's latest question or follow-up when there is one.
    pub fn status(
        &self,
        code: &str,
        label: &str,
        when: &str,
        note: Option<(&str, &str)>,
    ) -> String {
        let mut s = format!("{code}: {label} ({when}).");
        if let Some((what, text)) = note {
            let head = format!("{s} {what}: ");
            let tail = format!(" Balas: {code} <pesan> ke {}.", self.number);
            let budget = MAX_PARTS * PART
                - gsm7_len(&to_gsm7(&head)).unwrap_or(0)
                - gsm7_len(&tail).unwrap_or(0);
            s = format!("{}{}{tail}", to_gsm7(&head), fit(text, budget));
        }
        s
    }

    /// Information added while the report was on hold.
    pub fn supplemented(&self, code: &str) -> String {
        format!("Terima kasih. Info tambahan untuk {code} diterima; laporan kembali diverifikasi.")
    }

    /// A reply to the follow-up.
    pub fn replied(&self, code: &str) -> String {
        format!("Terima kasih. Balasan untuk {code} diterima; laporan diproses kembali.")
    }

    /// More information when the report is not waiting for any.
    pub fn not_waiting(&self, code: &str, label: &str) -> String {
        format!("{code} berstatus {label}. Info tambahan diterima saat petugas memintanya atau setelah tindak lanjut. Cek: CEK {code}")
    }

    /// A code with nothing after it.
    pub fn follow_up_empty(&self, code: &str) -> String {
        format!(
            "Tulis info setelah kode, mis. {code} lubangnya makin besar. Kirim ke {}.",
            self.number
        )
    }

    /// A code this number cannot follow (unknown, another number's, or anonymous: one answer for all).
    pub fn unknown_code(&self, code: &str) -> String {
        format!(
            "Kode {code} tidak ditemukan untuk nomor ini. Laporan anonim diikuti di {}.",
            self.track_at
        )
    }

    /// A report now handled by another node, which holds what the citizen may add.
    pub fn elsewhere(&self, code: &str, node_name: &str) -> String {
        format!(
            "{code} kini ditangani {node_name}. Ikuti dan tambah info di {}.",
            self.track_at
        )
    }

    /// `CEK` without a code.
    pub fn status_how(&self) -> String {
        format!(
            "Kirim CEK <kode>, mis. CEK KPG-7Q2M9X4K1B, ke {}.",
            self.number
        )
    }

    /// An empty SMS.
    pub fn empty(&self) -> String {
        format!(
            "Pesan kosong. Kirim {kw} <keluhan Anda>, mis. {kw} jalan rusak di Oebobo, ke {}.",
            self.number,
            kw = self.example_keyword
        )
    }

    /// Keywords and nothing else.
    pub fn keyword_only(&self, words: &str) -> String {
        let words = fit(words, 40);
        format!("Tulis keluhan setelah {words}, mis. {words} jalan rusak di Oebobo. Belum ada laporan dibuat.")
    }

    /// A text too short to act on.
    pub fn too_short(&self) -> String {
        format!(
            "Pesan terlalu singkat. Jelaskan apa, di mana, kapan, mis. {} jalan rusak di Oebobo. Belum ada laporan dibuat.",
            self.example_keyword
        )
    }

    /// A text over the limit.
    pub fn too_long(&self, chars: usize, max: usize) -> String {
        format!("Pesan terlalu panjang ({chars} karakter, maks {max}). Kirim lebih singkat; belum ada laporan dibuat.")
    }

    /// Binary data, a ringtone, a lone part of a long message.
    pub fn unreadable(&self) -> String {
        "Pesan tidak dapat dibaca (bukan teks). Kirim ulang sebagai SMS teks biasa; belum ada laporan dibuat.".into()
    }

    /// A coding or charset this node does not read.
    pub fn unknown_encoding(&self, what: &str) -> String {
        let what = fit(what, 20);
        format!("Pesan tidak dapat dibaca (pengodean {what} tidak dikenal). Kirim ulang sebagai SMS teks biasa.")
    }

    /// Too many messages from one number.
    pub fn flooding(&self, minutes: u64) -> String {
        format!("Maaf, terlalu banyak SMS dari nomor Anda. Coba lagi dalam {minutes} menit. Laporan yang sudah terkirim tetap tercatat.")
    }

    /// A sender that is not a phone number.
    pub fn bad_sender(&self) -> String {
        "Nomor pengirim tidak dikenali; laporan tidak dapat dicatat. Gunakan nomor ponsel biasa."
            .into()
    }

    /// Input the intake refused, with its Indonesian reason.
    pub fn refused(&self, reason: &str) -> String {
        let mut s = String::from("Laporan belum dapat dicatat: ");
        let _ = write!(s, "{}", fit(reason, 200));
        s.push_str(". Perbaiki dan kirim ulang.");
        s
    }

    /// Something failed inside the node.
    pub fn unavailable(&self) -> String {
        "Maaf, layanan LAPOR! sedang gangguan. Silakan kirim ulang SMS Anda nanti.".into()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_answer_is_gsm7_and_fits() {
        let t = Texts {
            number: "1708".into(),
            example_keyword: "KOTKUPANGXYZABCDEFGH".into(),
            track_at: "https://lapor.kupangkota.go.id/track".into(),
        };
        let code = "ABCDEFGH-7Q2M9X4K1B"; // the longest node code
        let long = "kata ".repeat(300);
        let all = [
            t.filed(code),
            t.filed_anonymous(code, "0123456789ABCDEFGHJKMNPQRS"),
            t.status(
                code,
                "Ditindaklanjuti",
                "03-12-2026 15:20 WITA",
                Some(("Tindak lanjut", &long)),
            ),
            t.status(
                code,
                "Tertunda",
                "03-12-2026 15:20 WITA",
                Some(("Petugas meminta", "Foto lokasinya “mana”? … ✓")),
            ),
            t.supplemented(code),
            t.replied(code),
            t.not_waiting(code, "Belum terverifikasi"),
            t.follow_up_empty(code),
            t.unknown_code(code),
            t.elsewhere(code, "Pemerintah Provinsi Nusa Tenggara Timur"),
            t.status_how(),
            t.empty(),
            t.keyword_only(&"KOTKUPANG ".repeat(10)),
            t.too_short(),
            t.too_long(5000, 1600),
            t.unreadable(),
            t.unknown_encoding("KOI8-R"),
            t.flooding(59),
            t.bad_sender(),
            t.refused(&long),
            t.unavailable(),
        ];
        for a in &all {
            let n = gsm7_len(a).unwrap_or_else(|| panic!("not GSM-7: {a}"));
            assert!(parts(n) <= MAX_PARTS, "{n} septets: {a}");
        }
        assert!(
            gsm7_len(&t.filed(code)).unwrap() <= SINGLE,
            "{}",
            t.filed(code)
        );
        assert!(all[2].ends_with("ke 1708.") && all[2].contains("..."));
        assert!(all[3].contains("\"mana\"? ..."));
    }

    #[test]
    fn septets() {
        assert_eq!(gsm7_len("abc{}"), Some(7));
        assert_eq!(gsm7_len("✓"), None);
        assert_eq!(
            (parts(160), parts(161), parts(459), parts(460)),
            (1, 2, 3, 4)
        );
    }
}
