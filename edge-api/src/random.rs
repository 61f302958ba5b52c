//! Randomness from the Workers runtime's CSPRNG (keys, secrets, request nonces).

use crate::error::ApiError;

pub fn bytes<const N: usize>() -> Result<[u8; N], ApiError> {
    let mut bytes = [0u8; N];
    getrandom::getrandom(&mut bytes).map_err(|e| ApiError::Runtime(format!("randomness: {e}")))?;
    Ok(bytes)
}

/// 128 random bits, hex.
pub fn nonce() -> Result<String, ApiError> {
    Ok(bytes::<16>()?.iter().map(|b| format!("{b:02x}")).collect())
}
