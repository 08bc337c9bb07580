//! The ICMP type and code tables of RFC 7915 §4.2 (ICMPv4 to ICMPv6) and
//! §5.2 (ICMPv6 to ICMPv4), the Parameter Problem pointer maps (Figures 3
//! and 6), the RFC 1191 plateaus, and the ICMP codepoints they use.
//!
//! Each function is a pure table: a type, code and the four bytes after
//! the checksum in, the translated header or the reason to drop out.

use super::Reason;

/// ICMPv4 types (RFC 792 and the IANA "ICMP Type Numbers" registry).
pub mod v4 {
    /// Echo Reply (RFC 792).
    pub const ECHO_REPLY: u8 = 0;
    /// Destination Unreachable (RFC 792).
    pub const DEST_UNREACHABLE: u8 = 3;
    /// Source Quench (RFC 792, deprecated by RFC 6633).
    pub const SOURCE_QUENCH: u8 = 4;
    /// Redirect (RFC 792).
    pub const REDIRECT: u8 = 5;
    /// Echo Request (RFC 792).
    pub const ECHO_REQUEST: u8 = 8;
    /// Time Exceeded (RFC 792).
    pub const TIME_EXCEEDED: u8 = 11;
    /// Parameter Problem (RFC 792).
    pub const PARAMETER_PROBLEM: u8 = 12;

    /// Destination Unreachable code 4: Fragmentation Needed and DF Set
    /// (RFC 792, RFC 1191 §4).
    pub const CODE_FRAGMENTATION_NEEDED: u8 = 4;
    /// Destination Unreachable code 3: Port Unreachable (RFC 792).
    pub const CODE_PORT_UNREACHABLE: u8 = 3;
    /// Destination Unreachable code 5: Source Route Failed (RFC 792).
    pub const CODE_SOURCE_ROUTE_FAILED: u8 = 5;
    /// Destination Unreachable code 13: Communication Administratively
    /// Prohibited (RFC 1812 §5.2.7.1): RFC 7915 §4.4's default.
    pub const CODE_ADMIN_PROHIBITED: u8 = 13;

    /// Whether `t` is an ICMPv4 error message (RFC 792, RFC 1812 §4.3.2.7):
    /// the types that quote a datagram.
    pub fn is_error(t: u8) -> bool {
        matches!(t, 3 | 4 | 5 | 6 | 11 | 12 | 31 | 40)
    }
}

/// ICMPv6 types (RFC 4443 and the IANA "ICMPv6 Parameters" registry).
pub mod v6 {
    /// Destination Unreachable (RFC 4443 §3.1).
    pub const DEST_UNREACHABLE: u8 = 1;
    /// Packet Too Big (RFC 4443 §3.2).
    pub const PACKET_TOO_BIG: u8 = 2;
    /// Time Exceeded (RFC 4443 §3.3).
    pub const TIME_EXCEEDED: u8 = 3;
    /// Parameter Problem (RFC 4443 §3.4).
    pub const PARAMETER_PROBLEM: u8 = 4;
    /// Echo Request (RFC 4443 §4.1).
    pub const ECHO_REQUEST: u8 = 128;
    /// Echo Reply (RFC 4443 §4.2).
    pub const ECHO_REPLY: u8 = 129;

    /// Destination Unreachable code 1: communication with destination
    /// administratively prohibited (RFC 4443 §3.1): RFC 7915 §5.4's
    /// default.
    pub const CODE_ADMIN_PROHIBITED: u8 = 1;
    /// Destination Unreachable code 3: address unreachable (RFC 4443
    /// §3.1), what RFC 6146 §3.5 sends when no mapping can be made.
    pub const CODE_ADDRESS_UNREACHABLE: u8 = 3;
    /// Destination Unreachable code 5: source address failed
    /// ingress/egress policy (RFC 4443 §3.1): RFC 7915 §5.4 for an
    /// untranslatable source.
    pub const CODE_SOURCE_POLICY: u8 = 5;

    /// Whether `t` is an ICMPv6 error message (RFC 4443 §2.1: types 0 to
    /// 127).
    pub fn is_error(t: u8) -> bool {
        t < 128
    }
}

/// A translated ICMP header: type, code, and the four bytes after the
/// checksum (pointer, MTU, RFC 4884 length, identifier and sequence).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Header {
    pub(crate) ty: u8,
    pub(crate) code: u8,
    pub(crate) rest: [u8; 4],
}

/// What the translated error needs from the caller to finish its header.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Finish {
    /// Nothing: the header is complete (the RFC 4884 length is set later
    /// where `length_at` says).
    Done,
    /// A Packet Too Big / Fragmentation Needed: the MTU must be computed
    /// (RFC 7915 §4.2, §5.2).
    Mtu,
}

/// The translated header and where its RFC 4884 length goes (an index into
/// `rest`), if the translated type has one.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Mapped {
    pub(crate) header: Header,
    pub(crate) length_at: Option<usize>,
    pub(crate) finish: Finish,
}

/// RFC 7915 §4.2: an ICMPv4 error (type, code, bytes 4..8) to ICMPv6.
pub(crate) fn error_4to6(ty: u8, code: u8, rest: [u8; 4]) -> Result<Mapped, Reason> {
    let du = |code| Mapped {
        header: Header {
            ty: v6::DEST_UNREACHABLE,
            code,
            rest: [0; 4],
        },
        length_at: Some(0),
        finish: Finish::Done,
    };
    match ty {
        v4::DEST_UNREACHABLE => match code {
            // Net, host unreachable; source route failed; net, host
            // unknown; source host isolated; net, host unreachable for TOS.
            0 | 1 | 5 | 6 | 7 | 8 | 11 | 12 => Ok(du(0)),
            // Protocol unreachable: Parameter Problem, Code 1, pointing at
            // the Next Header field.
            2 => Ok(Mapped {
                header: Header {
                    ty: v6::PARAMETER_PROBLEM,
                    code: 1,
                    rest: 6u32.to_be_bytes(),
                },
                length_at: None,
                finish: Finish::Done,
            }),
            3 => Ok(du(4)), // port unreachable
            4 => Ok(Mapped {
                header: Header {
                    ty: v6::PACKET_TOO_BIG,
                    code: 0,
                    rest: [0; 4],
                },
                length_at: None,
                finish: Finish::Mtu,
            }),
            // Administratively prohibited (net, host, communication);
            // precedence cutoff.
            9 | 10 | 13 | 15 => Ok(du(1)),
            // 14 (host precedence violation) and unknown codes.
            _ => Err(Reason::IcmpUntranslatable),
        },
        v4::TIME_EXCEEDED => Ok(Mapped {
            header: Header {
                ty: v6::TIME_EXCEEDED,
                code,
                rest: [0; 4],
            },
            length_at: Some(0),
            finish: Finish::Done,
        }),
        v4::PARAMETER_PROBLEM => match code {
            // Pointer indicates the error; bad length.
            0 | 2 => {
                let pointer = pointer_4to6(rest[0]).ok_or(Reason::IcmpPointer)?;
                Ok(Mapped {
                    header: Header {
                        ty: v6::PARAMETER_PROBLEM,
                        code: 0,
                        rest: u32::from(pointer).to_be_bytes(),
                    },
                    length_at: None,
                    finish: Finish::Done,
                })
            }
            // 1 (missing a required option) and unknown codes.
            _ => Err(Reason::IcmpUntranslatable),
        },
        // Source Quench, Redirect, Alternative Host Address, unknown.
        _ => Err(Reason::IcmpUntranslatable),
    }
}

/// RFC 7915 §5.2: an ICMPv6 error (type, code, bytes 4..8) to ICMPv4.
pub(crate) fn error_6to4(ty: u8, code: u8, rest: [u8; 4]) -> Result<Mapped, Reason> {
    let du = |code| Mapped {
        header: Header {
            ty: v4::DEST_UNREACHABLE,
            code,
            rest: [0; 4],
        },
        length_at: Some(1),
        finish: Finish::Done,
    };
    match ty {
        v6::DEST_UNREACHABLE => match code {
            // No route; beyond scope of source address; address unreachable.
            0 | 2 | 3 => Ok(du(1)),
            1 => Ok(du(10)), // administratively prohibited
            4 => Ok(du(3)),  // port unreachable
            _ => Err(Reason::IcmpUntranslatable),
        },
        v6::PACKET_TOO_BIG => Ok(Mapped {
            header: Header {
                ty: v4::DEST_UNREACHABLE,
                code: v4::CODE_FRAGMENTATION_NEEDED,
                rest: [0; 4],
            },
            length_at: None,
            finish: Finish::Mtu,
        }),
        v6::TIME_EXCEEDED => Ok(Mapped {
            header: Header {
                ty: v4::TIME_EXCEEDED,
                code,
                rest: [0; 4],
            },
            length_at: Some(1),
            finish: Finish::Done,
        }),
        v6::PARAMETER_PROBLEM => match code {
            0 => {
                let pointer = pointer_6to4(u32::from_be_bytes(rest)).ok_or(Reason::IcmpPointer)?;
                Ok(Mapped {
                    header: Header {
                        ty: v4::PARAMETER_PROBLEM,
                        code: 0,
                        rest: [pointer, 0, 0, 0],
                    },
                    length_at: Some(1),
                    finish: Finish::Done,
                })
            }
            // Unrecognized Next Header: Protocol Unreachable.
            1 => Ok(du(2)),
            // 2 (unrecognized IPv6 option) and unknown codes.
            _ => Err(Reason::IcmpUntranslatable),
        },
        _ => Err(Reason::IcmpUntranslatable),
    }
}

/// RFC 7915 §4.2 Figure 3: an ICMPv4 Parameter Problem pointer to the
/// ICMPv6 one, or `None` where the figure says "n/a" or lists nothing.
///
/// ```
/// use sixgate::nat64::xlat::pointer_4to6;
///
/// assert_eq!(pointer_4to6(9), Some(6)); // Protocol -> Next Header
/// assert_eq!(pointer_4to6(10), None); // Header Checksum: n/a
/// ```
pub fn pointer_4to6(pointer: u8) -> Option<u8> {
    match pointer {
        0 => Some(0),        // Version/IHL -> Version/Traffic Class
        1 => Some(1),        // Type Of Service -> Traffic Class/Flow Label
        2 | 3 => Some(4),    // Total Length -> Payload Length
        8 => Some(7),        // Time to Live -> Hop Limit
        9 => Some(6),        // Protocol -> Next Header
        12..=15 => Some(8),  // Source Address
        16..=19 => Some(24), // Destination Address
        // 4-7 Identification, Flags, Fragment Offset; 10-11 Header
        // Checksum; options and beyond.
        _ => None,
    }
}

/// RFC 7915 §5.2 Figure 6: an ICMPv6 Parameter Problem pointer to the
/// ICMPv4 one, or `None` where the figure says "n/a" or lists nothing.
///
/// ```
/// use sixgate::nat64::xlat::pointer_6to4;
///
/// assert_eq!(pointer_6to4(30), Some(16)); // inside the Destination Address
/// assert_eq!(pointer_6to4(2), None); // Flow Label: n/a
/// ```
pub fn pointer_6to4(pointer: u32) -> Option<u8> {
    match pointer {
        0 => Some(0),        // Version/Traffic Class -> Version/IHL, TOS
        1 => Some(1),        // Traffic Class/Flow Label -> Type Of Service
        4 | 5 => Some(2),    // Payload Length -> Total Length
        6 => Some(9),        // Next Header -> Protocol
        7 => Some(8),        // Hop Limit -> Time to Live
        8..=23 => Some(12),  // Source Address
        24..=39 => Some(16), // Destination Address
        // 2-3 Flow Label; extension headers and beyond.
        _ => None,
    }
}

/// The RFC 1191 §7 table of MTU plateaus, largest first.
pub const PLATEAUS: [u16; 11] = [
    65535, 32000, 17914, 8166, 4352, 2002, 1492, 1006, 508, 296, 68,
];

/// RFC 7915 §4.2 with RFC 1191 §5: the likely path MTU when a router sent
/// Fragmentation Needed with an MTU of zero: the greatest plateau less than
/// the Total Length of the datagram that did not fit (68, the smallest,
/// when there is none).
///
/// ```
/// use sixgate::nat64::xlat::plateau;
///
/// assert_eq!(plateau(1500), 1492);
/// assert_eq!(plateau(40), 68);
/// ```
pub fn plateau(total_len: u16) -> u16 {
    PLATEAUS
        .iter()
        .copied()
        .find(|&p| p < total_len)
        .unwrap_or(68)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// RFC 7915 §4.2, Destination Unreachable (Type 3), one row per code:
    /// (ICMPv4 code, ICMPv6 type and code, or None for "silently drop").
    const DEST_UNREACH_4TO6: [(u8, Option<(u8, u8)>); 17] = [
        (0, Some((1, 0))),
        (1, Some((1, 0))),
        (2, Some((4, 1))),
        (3, Some((1, 4))),
        (4, Some((2, 0))),
        (5, Some((1, 0))),
        (6, Some((1, 0))),
        (7, Some((1, 0))),
        (8, Some((1, 0))),
        (9, Some((1, 1))),
        (10, Some((1, 1))),
        (11, Some((1, 0))),
        (12, Some((1, 0))),
        (13, Some((1, 1))),
        (14, None),
        (15, Some((1, 1))),
        (16, None),
    ];

    #[test]
    fn rfc7915_4_2_destination_unreachable() {
        for (code, want) in DEST_UNREACH_4TO6 {
            let got = error_4to6(3, code, [0; 4])
                .ok()
                .map(|m| (m.header.ty, m.header.code));
            assert_eq!(got, want, "ICMPv4 3/{code}");
        }
        // Protocol unreachable points at the Next Header field.
        let m = error_4to6(3, 2, [0; 4]).unwrap();
        assert_eq!(m.header.rest, [0, 0, 0, 6]);
        assert_eq!(error_4to6(3, 4, [0; 4]).unwrap().finish, Finish::Mtu);
    }

    #[test]
    fn rfc7915_4_2_other_types() {
        // Time Exceeded: type 3, code unchanged.
        for code in [0, 1] {
            let m = error_4to6(11, code, [0; 4]).unwrap();
            assert_eq!((m.header.ty, m.header.code), (3, code));
        }
        // Parameter Problem: codes 0 and 2 translate with the pointer;
        // code 1 and others are dropped.
        let m = error_4to6(12, 0, [9, 0, 0, 0]).unwrap();
        assert_eq!(
            (m.header.ty, m.header.code, m.header.rest),
            (4, 0, [0, 0, 0, 6])
        );
        let m = error_4to6(12, 2, [2, 0, 0, 0]).unwrap();
        assert_eq!(m.header.rest, [0, 0, 0, 4]);
        assert_eq!(error_4to6(12, 1, [0; 4]), Err(Reason::IcmpUntranslatable));
        assert_eq!(error_4to6(12, 3, [0; 4]), Err(Reason::IcmpUntranslatable));
        assert_eq!(error_4to6(12, 0, [4, 0, 0, 0]), Err(Reason::IcmpPointer));
        // Source Quench, Redirect, Alternative Host Address: dropped.
        for ty in [4, 5, 6, 99] {
            assert_eq!(error_4to6(ty, 0, [0; 4]), Err(Reason::IcmpUntranslatable));
        }
    }

    /// RFC 7915 §5.2, one row per type and code: (ICMPv6 type, code,
    /// ICMPv4 type and code or None for "silently drop").
    type Row = (u8, u8, Option<(u8, u8)>);
    const ERRORS_6TO4: [Row; 14] = [
        (1, 0, Some((3, 1))),
        (1, 1, Some((3, 10))),
        (1, 2, Some((3, 1))),
        (1, 3, Some((3, 1))),
        (1, 4, Some((3, 3))),
        (1, 5, None),
        (1, 6, None),
        (2, 0, Some((3, 4))),
        (3, 0, Some((11, 0))),
        (3, 1, Some((11, 1))),
        (4, 0, Some((12, 0))),
        (4, 1, Some((3, 2))),
        (4, 2, None),
        (5, 0, None),
    ];

    #[test]
    fn rfc7915_5_2_errors() {
        for (ty, code, want) in ERRORS_6TO4 {
            let got = error_6to4(ty, code, [0; 4])
                .ok()
                .map(|m| (m.header.ty, m.header.code));
            assert_eq!(got, want, "ICMPv6 {ty}/{code}");
        }
    }

    /// RFC 7915 Figure 3, every IPv4 pointer 0..=20.
    const FIGURE_3: [Option<u8>; 21] = [
        Some(0),
        Some(1),
        Some(4),
        Some(4),
        None,
        None,
        None,
        None,
        Some(7),
        Some(6),
        None,
        None,
        Some(8),
        Some(8),
        Some(8),
        Some(8),
        Some(24),
        Some(24),
        Some(24),
        Some(24),
        None,
    ];

    #[test]
    fn rfc7915_figure_3() {
        for (p, want) in FIGURE_3.iter().enumerate() {
            assert_eq!(pointer_4to6(p as u8), *want, "IPv4 pointer {p}");
        }
        assert_eq!(pointer_4to6(255), None);
    }

    #[test]
    fn rfc7915_figure_6() {
        let mut want = vec![
            Some(0),
            Some(1),
            None,
            None,
            Some(2),
            Some(2),
            Some(9),
            Some(8),
        ];
        want.extend([Some(12); 16]);
        want.extend([Some(16); 16]);
        want.push(None);
        for (p, want) in want.iter().enumerate() {
            assert_eq!(pointer_6to4(p as u32), *want, "IPv6 pointer {p}");
        }
        assert_eq!(pointer_6to4(u32::MAX), None);
    }

    #[test]
    fn rfc1191_plateaus() {
        assert_eq!(plateau(1500), 1492);
        assert_eq!(plateau(1492), 1006);
        assert_eq!(plateau(65535), 32000);
        assert_eq!(plateau(576), 508);
        assert_eq!(plateau(68), 68);
        assert_eq!(plateau(0), 68);
    }

    #[test]
    fn error_classes() {
        assert!(v4::is_error(3) && v4::is_error(11) && v4::is_error(12));
        assert!(!v4::is_error(0) && !v4::is_error(8) && !v4::is_error(13));
        assert!(v6::is_error(1) && v6::is_error(127));
        assert!(!v6::is_error(128) && !v6::is_error(135));
    }
}
