//! pool4 port blocks: which blocks are free, and where a block lies.
//!
//! Each protocol's pool4 is cut into blocks of `block_size` ports that
//! never straddle the well-known / ephemeral boundary at 1024
//! (RFC 6146 §3.5.1.1 keeps a source port's range), and start on an even
//! port (so each block holds as many even ports as odd: parity is kept).
//! Blocks are numbered in (address, port) order; a number decodes to its
//! address and first port by binary search over the segments. Free blocks
//! sit in one list per (protocol, class); taking one at a hashed index and
//! returning it are O(1).

use super::config::{Config, Segment};
use super::Protocol;

/// The two RFC 6146 §3.5.1.1 port ranges.
pub(crate) const WELL_KNOWN: usize = 0;
/// 1024-65535.
pub(crate) const EPHEMERAL: usize = 1;

/// The class of a port.
pub(crate) fn class_of(port: u16) -> usize {
    if port < 1024 {
        WELL_KNOWN
    } else {
        EPHEMERAL
    }
}

/// The class and number of the block of `size` ports holding `addr:port`
/// among `segments`, if any (a binary search).
pub(crate) fn block_id(
    segments: &[[Vec<Segment>; 2]; 3],
    size: u16,
    proto: Protocol,
    addr: u32,
    port: u16,
) -> Option<(usize, u32)> {
    let class = class_of(port);
    let segs = segments.get(proto.index())?.get(class)?;
    let i = segs
        .partition_point(|s| (s.addr, s.first_port) <= (addr, port))
        .checked_sub(1)?;
    let seg = segs.get(i)?;
    if seg.addr != addr {
        return None;
    }
    let k = u32::from(port.checked_sub(seg.first_port)?).checked_div(u32::from(size))?;
    (k < seg.blocks).then(|| (class, seg.first_id.saturating_add(k)))
}

/// Free lists and geometry of pool4's blocks.
#[derive(Clone, Debug)]
pub(crate) struct Blocks {
    size: u16,
    segments: [[Vec<Segment>; 2]; 3],
    free: [[Vec<u32>; 2]; 3],
}

impl Blocks {
    /// Every block of the configuration's shard (block number modulo the
    /// shard count) is free, except those holding a static BIB entry's
    /// port: those are never handed out, by any shard.
    pub(crate) fn new(config: &Config) -> Self {
        let shards = u32::from(config.shards).max(1);
        let shard = u32::from(config.shard);
        let mut blocks = Self {
            size: config.block_size,
            segments: config.segments.clone(),
            free: Default::default(),
        };
        let mut reserved: Vec<(usize, usize, u32)> = Vec::new();
        for st in &config.statics {
            if let Some((class, id)) = blocks.id_of(st.proto, u32::from(st.v4.addr), st.v4.port) {
                reserved.push((st.proto.index(), class, id));
            }
        }
        reserved.sort_unstable();
        for (p, per_proto) in blocks.segments.iter().enumerate() {
            for (c, segs) in per_proto.iter().enumerate() {
                let Some(list) = blocks.free.get_mut(p).and_then(|l| l.get_mut(c)) else {
                    continue;
                };
                for seg in segs {
                    for k in 0..seg.blocks {
                        let id = seg.first_id.saturating_add(k);
                        if id.checked_rem(shards) == Some(shard)
                            && reserved.binary_search(&(p, c, id)).is_err()
                        {
                            list.push(id);
                        }
                    }
                }
            }
        }
        blocks
    }

    /// Takes a free block of `proto` in `class`, at index `h` modulo the
    /// free count.
    pub(crate) fn take(&mut self, proto: Protocol, class: usize, h: u64) -> Option<u32> {
        let list = self.free.get_mut(proto.index())?.get_mut(class)?;
        let n = u64::try_from(list.len()).ok()?;
        let i = usize::try_from(h.checked_rem(n)?).ok()?;
        (i < list.len()).then(|| list.swap_remove(i))
    }

    /// Returns a block to its free list.
    pub(crate) fn put(&mut self, proto: Protocol, class: usize, id: u32) {
        if let Some(list) = self
            .free
            .get_mut(proto.index())
            .and_then(|l| l.get_mut(class))
        {
            list.push(id);
        }
    }

    /// How many blocks of `proto` are free.
    pub(crate) fn free_count(&self, proto: Protocol) -> usize {
        self.free
            .get(proto.index())
            .map_or(0, |l| l.iter().map(Vec::len).sum())
    }

    /// The address and first port of block `id`.
    pub(crate) fn locate(&self, proto: Protocol, class: usize, id: u32) -> Option<(u32, u16)> {
        let segs = self.segments.get(proto.index())?.get(class)?;
        let i = segs.partition_point(|s| s.first_id <= id).checked_sub(1)?;
        let seg = segs.get(i)?;
        let k = id.checked_sub(seg.first_id)?;
        if k >= seg.blocks {
            return None;
        }
        let offset = k.checked_mul(u32::from(self.size))?;
        let port = u32::from(seg.first_port).checked_add(offset)?;
        Some((seg.addr, u16::try_from(port).ok()?))
    }

    /// The class and number of the block holding `addr:port`, if any.
    pub(crate) fn id_of(&self, proto: Protocol, addr: u32, port: u16) -> Option<(usize, u32)> {
        block_id(&self.segments, self.size, proto, addr, port)
    }

    /// Heap bytes of the free lists and segments (by capacity).
    pub(crate) fn heap_bytes(&self) -> usize {
        let free = self
            .free
            .iter()
            .flatten()
            .map(|l| l.capacity().saturating_mul(4));
        let segs = self
            .segments
            .iter()
            .flatten()
            .map(|l| l.capacity().saturating_mul(size_of::<Segment>()));
        free.chain(segs).fold(0usize, usize::saturating_add)
    }

    /// Ports per block.
    pub(crate) fn size(&self) -> u16 {
        self.size
    }
}
