//! Input checks shared by every surface: each collects per-field errors (code and a bilingual message) so a
//! form or an API client learns everything that is wrong at once, before anything is stored.

use lapor_schemas::api as wire;
use lapor_schemas::problem::FieldError;

use super::error::{AppError, AppResult};

/// Collects field errors.
pub(crate) struct Checker(Vec<FieldError>);

impl Checker {
    pub(crate) fn new() -> Self {
        Self(Vec::new())
    }

    pub(crate) fn fail(&mut self, field: &str, code: &str, message: impl Into<String>) {
        self.0.push(FieldError {
            field: field.into(),
            code: code.into(),
            message: message.into(),
        });
    }

    /// A text of `min..=max` characters (trimmed for the minimum).
    pub(crate) fn text(&mut self, field: &str, value: &str, min: usize, max: usize) {
        let n = value.trim().chars().count();
        if n < min {
            if n == 0 {
                self.fail(field, "required", "wajib diisi / is required");
            } else {
                self.fail(
                    field,
                    "too_short",
                    format!("minimal {min} karakter / at least {min} characters"),
                );
            }
        } else if value.chars().count() > max {
            self.fail(
                field,
                "too_long",
                format!("maksimal {max} karakter / at most {max} characters"),
            );
        }
    }

    /// An optional text of at most `max` characters, not blank when given.
    pub(crate) fn opt_text(&mut self, field: &str, value: Option<&String>, max: usize) {
        if let Some(v) = value {
            self.text(field, v, 1, max);
        }
    }

    /// A Kemendagri region code, when given.
    pub(crate) fn region_code(&mut self, field: &str, code: Option<&str>) {
        if code.is_some_and(|r| !crate::domain::region::valid_region_code(r)) {
            self.fail(
                field,
                "invalid",
                "kode wilayah Kemendagri, mis. 53.71 / Kemendagri region code, e.g. 53.71",
            );
        }
    }

    /// An agency or category id.
    pub(crate) fn slug(&mut self, field: &str, id: &str) {
        if !crate::domain::region::valid_slug(id) {
            self.fail(
                field,
                "invalid",
                "2..64 huruf kecil, angka, tanda minus / 2..64 of a-z, 0-9, -",
            );
        }
    }

    pub(crate) fn finish(self) -> AppResult<()> {
        if self.0.is_empty() {
            Ok(())
        } else {
            Err(AppError::Validation(self.0))
        }
    }
}

/// Trimmed, and `None` when blank.
pub(crate) fn clean(s: Option<String>) -> Option<String> {
    s.map(|s| s.trim().to_owned()).filter(|s| !s.is_empty())
}

/// The checks every new account passes: login name, password, display name.
pub(crate) fn check_account(c: &mut Checker, username: &str, password: &str, display_name: &str) {
    check_username(c, username);
    check_password(c, password, username);
    c.text("display_name", display_name, 1, 100);
}

fn check_username(c: &mut Checker, username: &str) {
    let ok = (3..=64).contains(&username.len())
        && username
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"._-".contains(&b));
    if !ok {
        c.fail(
            "username",
            "invalid",
            "3..64 huruf kecil, angka, . _ - / 3..64 of a-z, 0-9, . _ -",
        );
    }
}

/// Passwords everyone tries first (`common_passwords.txt`, one a line, `#` comments).
const COMMON_PASSWORDS: &str = include_str!("common_passwords.txt");

/// The password policy: 10..=200 characters, not one character repeated, not containing the username, not
/// one of the most common passwords.
pub(crate) fn check_password(c: &mut Checker, password: &str, username: &str) {
    let n = password.chars().count();
    let lower = password.to_lowercase();
    let user = username.trim().to_lowercase();
    let mut chars = password.chars();
    let first = chars.next();
    if n < 10 {
        c.fail(
            "password",
            "too_short",
            "minimal 10 karakter / at least 10 characters",
        );
    } else if n > 200 {
        c.fail(
            "password",
            "too_long",
            "maksimal 200 karakter / at most 200 characters",
        );
    } else if chars.all(|ch| Some(ch) == first) {
        c.fail(
            "password",
            "repeated_character",
            "kata sandi tidak boleh satu karakter yang diulang / the password must not be one character repeated",
        );
    } else if user.len() >= 3 && lower.contains(&user) {
        c.fail(
            "password",
            "contains_username",
            "kata sandi tidak boleh memuat nama pengguna / the password must not contain the username",
        );
    } else if COMMON_PASSWORDS
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .any(|common| common.to_lowercase() == lower)
    {
        c.fail(
            "password",
            "too_common",
            "kata sandi ini terlalu umum dan mudah ditebak; pilih yang lain / this password is too common and easy to guess; choose another",
        );
    }
}

/// The reporter's contact details: a name, a phone number of 8..16 digits, an e-mail address.
pub(crate) fn check_reporter(c: &mut Checker, r: &wire::Reporter) {
    c.opt_text("reporter.name", r.name.as_ref(), 200);
    check_contact(c, "reporter.", r.phone.as_ref(), r.email.as_ref());
}

/// Whether `p` is a phone number: 8..16 digits, with spaces, `+` and `-` allowed.
pub(crate) fn valid_phone(p: &str) -> bool {
    let digits = p.chars().filter(char::is_ascii_digit).count();
    p.chars()
        .all(|ch| ch.is_ascii_digit() || " +-".contains(ch))
        && (8..=16).contains(&digits)
}

/// Whether `e` is an e-mail address one can send to: `local@domain.tld`, at most 254 bytes, no spaces or
/// control characters (which would let it inject mail headers).
pub(crate) fn valid_email(e: &str) -> bool {
    e.len() <= 254
        && !e
            .chars()
            .any(|ch| ch.is_whitespace() || ch.is_control() || "<>,;\"".contains(ch))
        && e.split_once('@').is_some_and(|(a, b)| {
            !a.is_empty()
                && !b.contains('@')
                && b.contains('.')
                && !b.starts_with('.')
                && !b.ends_with('.')
        })
}

/// A phone number and an e-mail address, named `<prefix>phone` and `<prefix>email` in errors.
pub(crate) fn check_contact(
    c: &mut Checker,
    prefix: &str,
    phone: Option<&String>,
    email: Option<&String>,
) {
    if phone.is_some_and(|p| !valid_phone(p)) {
        c.fail(
            &format!("{prefix}phone"),
            "invalid",
            "nomor telepon tidak valid (8 sampai 16 angka) / invalid phone number (8 to 16 digits)",
        );
    }
    if email.is_some_and(|e| !valid_email(e)) {
        c.fail(
            &format!("{prefix}email"),
            "invalid",
            "alamat email tidak valid / invalid e-mail address",
        );
    }
}
