//! Property tests: embed/extract round trips at every length, prefix text
//! round trips, and a comparison with a naive bit-by-bit reference of
//! RFC 6052 §2.2.

use std::net::{Ipv4Addr, Ipv6Addr};

use proptest::prelude::*;
use sixgate::rfc6052::{Nat64Prefix, PREFIX_LENGTHS};

/// Any valid NAT64 prefix: a random network, cut to an RFC 6052 length, with
/// the u-octet cleared.
fn prefix() -> impl Strategy<Value = Nat64Prefix> {
    (any::<u128>(), prop::sample::select(PREFIX_LENGTHS.to_vec())).prop_map(|(bits, len)| {
        let mask = !(u128::MAX >> len);
        let u_octet = 0xffu128 << 56;
        Nat64Prefix::new(Ipv6Addr::from(bits & mask & !u_octet), len).unwrap()
    })
}

/// RFC 6052 §2.2 read literally: walk the 128 bit positions, copy the prefix
/// bits, skip bits 64..72, place the 32 IPv4 bits in the remaining positions
/// after the prefix, leave the rest zero.
fn naive_embed(prefix: Nat64Prefix, v4: Ipv4Addr) -> Ipv6Addr {
    let p = prefix.network().octets();
    let a = v4.octets();
    let get = |bytes: &[u8], i: usize| (bytes[i / 8] >> (7 - i % 8)) & 1;
    let mut out = [0u8; 16];
    let mut next_v4_bit = 0;
    for i in 0..128 {
        let bit = if i < prefix.prefix_len() as usize {
            get(&p, i)
        } else if (64..72).contains(&i) {
            0
        } else if next_v4_bit < 32 {
            next_v4_bit += 1;
            get(&a, next_v4_bit - 1)
        } else {
            0
        };
        out[i / 8] |= bit << (7 - i % 8);
    }
    Ipv6Addr::from(out)
}

proptest! {
    #[test]
    fn embed_then_extract_round_trips(prefix in prefix(), v4 in any::<u32>()) {
        let v4 = Ipv4Addr::from(v4);
        let v6 = prefix.embed(v4);
        prop_assert!(prefix.contains(v6));
        prop_assert_eq!(prefix.extract(v6).unwrap(), v4);
    }

    #[test]
    fn embed_matches_the_naive_reference(prefix in prefix(), v4 in any::<u32>()) {
        let v4 = Ipv4Addr::from(v4);
        prop_assert_eq!(prefix.embed(v4), naive_embed(prefix, v4));
    }

    #[test]
    fn prefix_text_round_trips(prefix in prefix()) {
        let text = prefix.to_string();
        prop_assert_eq!(text.parse::<Nat64Prefix>().unwrap(), prefix);
        let upper = text.to_uppercase();
        prop_assert_eq!(upper.parse::<Nat64Prefix>().unwrap(), prefix);
    }

    #[test]
    fn extract_never_panics_and_agrees_with_contains(prefix in prefix(), bits in any::<u128>()) {
        let addr = Ipv6Addr::from(bits);
        match prefix.extract(addr) {
            Ok(v4) => {
                // Re-embedding gives the address with its suffix cleared.
                let back = prefix.embed(v4);
                prop_assert!(prefix.contains(addr));
                prop_assert_eq!(prefix.extract(back).unwrap(), v4);
            }
            Err(e) => prop_assert!(matches!(e.kind(), "outside_prefix" | "u_octet")),
        }
    }

    #[test]
    fn arbitrary_text_never_panics(s in "\\PC{0,60}") {
        let _ = s.parse::<Nat64Prefix>();
    }

    #[test]
    fn discovery_finds_what_was_embedded(prefix in prefix()) {
        // A prefix that happens to contain 192.0.0.170 at another position
        // is settled by the zero suffix; see the unit tests for that case.
        let found = sixgate::rfc6052::discover(&prefix.ipv4only_answers()).unwrap();
        prop_assert_eq!(found, vec![prefix]);
    }
}
