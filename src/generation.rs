//! The table every thread's near cache checks before returning an object it decoded earlier.
//!
//! One 32-bit word per store slot: the top bit is CLOCK's reference bit, the low 31 bits a generation
//! that changes whenever the slot's entry is written, replaced or removed. Word 0 is the store's
//! epoch, advanced by `clear()`. A near-cache entry remembers `(slot, generation, epoch)` and is
//! current exactly while both words still say so. JS reads the words through an ArrayBuffer over this
//! very memory (no call into Rust), and a near-cache hit sets the reference bit, so the store's
//! eviction sees the sessions whose hits never reach it.
//!
//! Ordering: writers change the map first and the generation after (both under the store's writer
//! lock); readers read the generation while they still hold the map's read guard for the value. A
//! reader can therefore pair a value with an older generation (a spurious miss later), never an old
//! value with a newer generation.

use std::sync::atomic::{AtomicU32, Ordering};

pub const REFERENCED: u32 = 1 << 31;
pub const GENERATION_MASK: u32 = !REFERENCED;

pub struct SlotTable {
    words: Box<[AtomicU32]>,
}

impl SlotTable {
    /// A table for `slots` slots. The memory comes zeroed from the allocator (calloc), so pages of
    /// slots never used cost address space, not memory.
    pub fn new(slots: usize) -> Self {
        let zeroed: Box<[u32]> = vec![0u32; slots + 1].into_boxed_slice();
        // SAFETY: AtomicU32 has the same size, alignment and bit validity as u32.
        let words = unsafe { Box::from_raw(Box::into_raw(zeroed) as *mut [AtomicU32]) };
        Self { words }
    }

    #[inline]
    fn word(&self, slot: u32) -> Option<&AtomicU32> {
        self.words.get(slot as usize + 1)
    }

    /// Index of a slot's word in the table as JS sees it.
    #[inline]
    pub fn index_of(slot: u32) -> u32 {
        slot + 1
    }

    pub fn epoch(&self) -> u32 {
        self.words[0].load(Ordering::Acquire)
    }

    pub fn advance_epoch(&self) {
        self.words[0].fetch_add(1, Ordering::AcqRel);
    }

    #[inline]
    pub fn generation(&self, slot: u32) -> u32 {
        self.word(slot)
            .map_or(0, |w| w.load(Ordering::Acquire) & GENERATION_MASK)
    }

    /// Marks a use. Reads first so that hot slots shared by several threads stay in every core's cache.
    #[inline]
    pub fn touch(&self, slot: u32) {
        if let Some(word) = self.word(slot) {
            if word.load(Ordering::Relaxed) & REFERENCED == 0 {
                word.fetch_or(REFERENCED, Ordering::Relaxed);
            }
        }
    }

    /// Clears the reference bit and says whether it was set.
    pub fn take_reference(&self, slot: u32) -> bool {
        self.word(slot)
            .is_some_and(|w| w.fetch_and(GENERATION_MASK, Ordering::Relaxed) & REFERENCED != 0)
    }

    /// A new key takes the slot: a new generation, the reference bit clear.
    pub fn claim(&self, slot: u32) {
        self.change(slot, 0);
    }

    /// The slot's entry was replaced or removed: a new generation, the reference bit kept.
    pub fn invalidate(&self, slot: u32) {
        self.change(slot, REFERENCED);
    }

    fn change(&self, slot: u32, keep: u32) {
        if let Some(word) = self.word(slot) {
            // Readers may set the reference bit meanwhile, so compare-and-swap rather than store.
            let _ = word.fetch_update(Ordering::AcqRel, Ordering::Relaxed, |w| {
                Some((w & keep) | (w.wrapping_add(1) & GENERATION_MASK))
            });
        }
    }

    /// The table's memory, for the binding to expose to JS; valid as long as `self` lives.
    pub fn as_bytes_ptr(&self) -> (*mut u8, usize) {
        (
            self.words.as_ptr() as *mut u8,
            std::mem::size_of_val(&*self.words),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_change_makes_a_new_generation() {
        let table = SlotTable::new(4);
        let g0 = table.generation(2);
        table.claim(2);
        let g1 = table.generation(2);
        table.invalidate(2);
        let g2 = table.generation(2);
        assert!(g0 != g1 && g1 != g2 && g0 != g2);
        assert_eq!(table.generation(1), 0, "other slots are untouched");
    }

    #[test]
    fn the_reference_bit_survives_invalidate_but_not_claim() {
        let table = SlotTable::new(2);
        table.touch(0);
        table.invalidate(0);
        assert!(table.take_reference(0));
        assert!(!table.take_reference(0));
        table.touch(0);
        table.claim(0);
        assert!(!table.take_reference(0));
    }

    #[test]
    fn generations_wrap_within_their_bits() {
        let table = SlotTable::new(1);
        table.words[1].store(GENERATION_MASK, Ordering::Relaxed);
        table.touch(0);
        table.invalidate(0);
        assert_eq!(table.generation(0), 0);
        assert!(table.take_reference(0));
    }

    #[test]
    fn the_epoch_is_word_zero() {
        let table = SlotTable::new(1);
        table.advance_epoch();
        assert_eq!(table.epoch(), 1);
        assert_eq!(table.generation(0), 0);
        assert_eq!(SlotTable::index_of(0), 1);
    }

    #[test]
    fn out_of_range_slots_are_ignored() {
        let table = SlotTable::new(1);
        table.touch(5);
        table.claim(5);
        assert_eq!(table.generation(5), 0);
        assert!(!table.take_reference(5));
    }
}
