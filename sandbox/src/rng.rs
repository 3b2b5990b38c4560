//! The sandbox's randomness: splitmix64 streams over (fixed seed, purpose, index), so every
//! record is a pure function of its index and nothing is stored.

const SEED: u64 = 0xAF7E_25A1_E5A4_D805;
const GOLDEN: u64 = 0x9E37_79B9_7F4A_7C15;

/// splitmix64's finalizer.
pub(crate) const fn mix(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

pub(crate) fn hash_bytes(b: &[u8]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for &c in b {
        h ^= u64::from(c);
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    mix(h)
}

/// Streams: one per purpose, so a record's cheap skeleton never depends on its rendering.
pub(crate) mod stream {
    pub const X_ORDER: u64 = 1;
    pub const X_PAIR: u64 = 2;
    pub const X_RECORD: u64 = 3;
    pub const X_DETAIL: u64 = 4;
    pub const X_USER: u64 = 5;
    pub const L_RECORD: u64 = 11;
    pub const L_DETAIL: u64 = 12;
    pub const L_LINE: u64 = 13;
    pub const L_ASIN: u64 = 14;
    pub const L_LIFE: u64 = 15;
    pub const W_ID: u64 = 21;
    pub const W_ORDER: u64 = 22;
    pub const W_AFTERSALE: u64 = 23;
    pub const W_BUYER: u64 = 24;
    pub const W_PRODUCT: u64 = 25;
    pub const W_LIFE: u64 = 26;
    pub const TOKEN: u64 = 31;
    pub const C_RECORD: u64 = 41;
    pub const C_DETAIL: u64 = 42;
}

/// splitmix64 over (seed, stream, index).
#[derive(Clone, Debug)]
pub(crate) struct Rng(u64);

impl Rng {
    pub fn new(stream: u64, index: u64) -> Rng {
        Rng(mix(SEED ^ mix(stream.wrapping_mul(GOLDEN) ^ mix(index.wrapping_add(GOLDEN)))))
    }

    pub fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(GOLDEN);
        mix(self.0)
    }

    /// Uniform in `0..n` (`n > 0`).
    pub fn below(&mut self, n: u64) -> u64 {
        ((u128::from(self.next()) * u128::from(n.max(1))) >> 64) as u64
    }

    /// Uniform in `lo..=hi`.
    pub fn between(&mut self, lo: i64, hi: i64) -> i64 {
        if hi <= lo {
            return lo;
        }
        lo + self.below((hi - lo + 1) as u64) as i64
    }

    pub fn pct(&mut self, p: u64) -> bool {
        self.below(100) < p
    }

    pub fn pick<T: Copy>(&mut self, xs: &[T]) -> T {
        xs[self.below(xs.len() as u64) as usize]
    }

    pub fn push_from(&mut self, out: &mut String, n: usize, alphabet: &[u8]) {
        for _ in 0..n {
            out.push(alphabet[self.below(alphabet.len() as u64) as usize] as char);
        }
    }

    pub fn push_hex(&mut self, out: &mut String, n: usize) {
        self.push_from(out, n, b"0123456789abcdef");
    }

    pub fn push_digits(&mut self, out: &mut String, n: usize) {
        self.push_from(out, n, b"0123456789");
    }
}

pub(crate) const ALNUM: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
pub(crate) const UPPER_ALNUM: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
pub(crate) const OPENID_CHARS: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

/// A token string of `n` characters from `alphabet`, fixed by (what, credential, time).
pub(crate) fn token_value(what: &str, credential: &str, now_ms: u64, n: usize, alphabet: &[u8]) -> String {
    let mut r = Rng::new(stream::TOKEN, hash_bytes(what.as_bytes()) ^ mix(hash_bytes(credential.as_bytes()) ^ now_ms));
    let mut s = String::with_capacity(n);
    r.push_from(&mut s, n, alphabet);
    s
}

pub(crate) fn uuid(r: &mut Rng, upper: bool) -> String {
    let mut s = String::with_capacity(36);
    for (i, n) in [8, 4, 4, 4, 12].into_iter().enumerate() {
        if i > 0 {
            s.push('-');
        }
        r.push_hex(&mut s, n);
    }
    if upper {
        s.make_ascii_uppercase();
    }
    s
}
