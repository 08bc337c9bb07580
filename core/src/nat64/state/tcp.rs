//! The TCP session state machine of RFC 6146 §3.5.2.2, as a pure
//! function of the state, the side a segment came from and its flags.
//!
//! ```
//! use sixgate::nat64::state::tcp::{Lifetime, Side, TcpState};
//!
//! // A connection opened from the IPv6 side, answered from IPv4.
//! let (s, t) = TcpState::open(Side::V6, 0x02).unwrap();
//! assert_eq!((s, t), (TcpState::V6Init, Lifetime::Trans));
//! let step = s.on_segment(Side::V4, 0x12); // SYN+ACK
//! assert_eq!((step.state, step.lifetime), (TcpState::Established, Some(Lifetime::Est)));
//! // Only a SYN opens one.
//! assert_eq!(TcpState::open(Side::V6, 0x10), None);
//! ```

/// TCP flag bits (RFC 9293 §3.1).
pub mod flags {
    /// FIN.
    pub const FIN: u8 = 0x01;
    /// SYN.
    pub const SYN: u8 = 0x02;
    /// RST.
    pub const RST: u8 = 0x04;
}

/// Where a segment came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Side {
    /// From the IPv6 node.
    V6,
    /// From the IPv4 node.
    V4,
}

/// The states of RFC 6146 §3.5.2.2 (CLOSED is the absence of a session).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum TcpState {
    /// A SYN came from the IPv4 side.
    V4Init,
    /// A SYN came from the IPv6 side.
    V6Init,
    /// SYNs seen from both sides.
    Established,
    /// A FIN came from the IPv4 side.
    V4FinRcv,
    /// A FIN came from the IPv6 side.
    V6FinRcv,
    /// FINs came from both sides.
    V4FinV6FinRcv,
    /// An RST was seen, or the established lifetime ran out: the session
    /// goes unless a packet other than an RST revives it.
    Trans,
}

/// The session lifetimes of RFC 6146 §4 a transition sets.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Lifetime {
    /// TCP_EST, at least 2 hours 4 minutes.
    Est,
    /// TCP_TRANS, at least 4 minutes.
    Trans,
    /// TCP_INCOMING_SYN, 6 seconds.
    IncomingSyn,
}

/// What a segment does to a session.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Step {
    /// The state after it.
    pub state: TcpState,
    /// The lifetime to restart, or `None` to keep the current expiry.
    pub lifetime: Option<Lifetime>,
}

/// What the end of a session's lifetime does.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Expiry {
    /// The session is removed.
    Remove,
    /// The session moves to [`TcpState::Trans`] for TCP_TRANS (RFC 6146
    /// §3.5.2.2 ESTABLISHED: the NAT64 then SHOULD probe the endpoints;
    /// this crate does not, and any segment but an RST revives the
    /// session).
    Trans,
}

impl TcpState {
    /// CLOSED: a segment with no session. A SYN from IPv6 opens V6 INIT
    /// (TCP_TRANS), from IPv4 V4 INIT (TCP_INCOMING_SYN); anything else
    /// makes no session.
    pub fn open(side: Side, tcp_flags: u8) -> Option<(Self, Lifetime)> {
        if tcp_flags & flags::SYN == 0 || tcp_flags & flags::RST != 0 {
            return None;
        }
        Some(match side {
            Side::V6 => (Self::V6Init, Lifetime::Trans),
            Side::V4 => (Self::V4Init, Lifetime::IncomingSyn),
        })
    }

    /// RFC 6146 §3.5.2.2: the transition for a segment from `side` with
    /// `tcp_flags`. The segment is always translated.
    pub fn on_segment(self, side: Side, tcp_flags: u8) -> Step {
        let syn = tcp_flags & flags::SYN != 0;
        let fin = tcp_flags & flags::FIN != 0;
        let rst = tcp_flags & flags::RST != 0;
        let keep = Step {
            state: self,
            lifetime: None,
        };
        let to = |state, lifetime| Step {
            state,
            lifetime: Some(lifetime),
        };
        match self {
            Self::V4Init if side == Side::V6 && syn => to(Self::Established, Lifetime::Est),
            Self::V6Init if side == Side::V4 && syn => to(Self::Established, Lifetime::Est),
            Self::V6Init if syn => to(Self::V6Init, Lifetime::Trans),
            Self::V4Init | Self::V6Init => keep,
            Self::Established if fin => Step {
                state: match side {
                    Side::V4 => Self::V4FinRcv,
                    Side::V6 => Self::V6FinRcv,
                },
                lifetime: None,
            },
            Self::Established if rst => to(Self::Trans, Lifetime::Trans),
            Self::Established => to(Self::Established, Lifetime::Est),
            Self::V4FinRcv if side == Side::V6 && fin => to(Self::V4FinV6FinRcv, Lifetime::Trans),
            Self::V6FinRcv if side == Side::V4 && fin => to(Self::V4FinV6FinRcv, Lifetime::Trans),
            Self::V4FinRcv | Self::V6FinRcv => to(self, Lifetime::Est),
            Self::V4FinV6FinRcv => keep,
            Self::Trans if rst => keep,
            Self::Trans => to(Self::Established, Lifetime::Est),
        }
    }

    /// The end of the lifetime: ESTABLISHED moves to TRANS, every other
    /// state removes the session.
    pub fn on_expiry(self) -> Expiry {
        match self {
            Self::Established => Expiry::Trans,
            _ => Expiry::Remove,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SYN: u8 = flags::SYN;
    const FIN: u8 = flags::FIN;
    const RST: u8 = flags::RST;
    const ACK: u8 = 0x10;

    #[test]
    fn closed() {
        assert_eq!(
            TcpState::open(Side::V6, SYN),
            Some((TcpState::V6Init, Lifetime::Trans))
        );
        assert_eq!(
            TcpState::open(Side::V4, SYN),
            Some((TcpState::V4Init, Lifetime::IncomingSyn))
        );
        for f in [0, ACK, FIN, RST, SYN | RST] {
            assert_eq!(TcpState::open(Side::V6, f), None, "flags {f:#x}");
        }
    }

    /// RFC 6146 §3.5.2.2, every state and event: (state, side, flags,
    /// next state, lifetime restarted).
    #[test]
    fn rfc6146_transitions() {
        use Lifetime as L;
        use Side::{V4, V6};
        use TcpState::*;
        let rows: [(TcpState, Side, u8, TcpState, Option<Lifetime>); 24] = [
            (V4Init, V6, SYN, Established, Some(L::Est)),
            (V4Init, V4, SYN, V4Init, None),
            (V4Init, V6, ACK, V4Init, None),
            (V6Init, V4, SYN | ACK, Established, Some(L::Est)),
            (V6Init, V6, SYN, V6Init, Some(L::Trans)),
            (V6Init, V4, ACK, V6Init, None),
            (Established, V4, FIN | ACK, V4FinRcv, None),
            (Established, V6, FIN, V6FinRcv, None),
            (Established, V4, RST, Trans, Some(L::Trans)),
            (Established, V6, RST, Trans, Some(L::Trans)),
            (Established, V6, ACK, Established, Some(L::Est)),
            (Established, V4, 0, Established, Some(L::Est)),
            (V4FinRcv, V6, FIN | ACK, V4FinV6FinRcv, Some(L::Trans)),
            (V4FinRcv, V4, FIN, V4FinRcv, Some(L::Est)),
            (V4FinRcv, V6, ACK, V4FinRcv, Some(L::Est)),
            (V6FinRcv, V4, FIN, V4FinV6FinRcv, Some(L::Trans)),
            (V6FinRcv, V6, FIN, V6FinRcv, Some(L::Est)),
            (V6FinRcv, V4, ACK, V6FinRcv, Some(L::Est)),
            (V4FinV6FinRcv, V4, ACK, V4FinV6FinRcv, None),
            (V4FinV6FinRcv, V6, SYN, V4FinV6FinRcv, None),
            (Trans, V4, ACK, Established, Some(L::Est)),
            (Trans, V6, 0, Established, Some(L::Est)),
            (Trans, V6, RST, Trans, None),
            (Trans, V4, RST | ACK, Trans, None),
        ];
        for (from, side, f, to, lifetime) in rows {
            let step = from.on_segment(side, f);
            assert_eq!(
                (step.state, step.lifetime),
                (to, lifetime),
                "{from:?} {side:?} {f:#x}"
            );
        }
    }

    #[test]
    fn expiry() {
        assert_eq!(TcpState::Established.on_expiry(), Expiry::Trans);
        for s in [
            TcpState::V4Init,
            TcpState::V6Init,
            TcpState::V4FinRcv,
            TcpState::V6FinRcv,
            TcpState::V4FinV6FinRcv,
            TcpState::Trans,
        ] {
            assert_eq!(s.on_expiry(), Expiry::Remove, "{s:?}");
        }
    }
}
