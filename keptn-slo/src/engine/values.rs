//! The current SLI values as Keptn hands them out to objectives (take first, swap-remove).

use keptn_spec::SliValue;

use super::text::additional_slis_message;
use super::{NONE, Plan, index};

/// The current SLI values, handed out to objectives as Keptn does: an objective takes the
/// first value with its SLI name and removes it from the list (the last value moves into its
/// place), so a second objective on the same SLI gets "no value" unless the provider sent the
/// metric twice. What no objective took is reported as additional SLIs.
pub(super) struct Values {
    /// Per group, the first value's index (`NONE`: none left). Enough when no SLI name occurs
    /// twice among the values.
    first: Vec<u32>,
    /// Per value, its group (`NONE`: no objective asks for it).
    group_of: Vec<u32>,
    /// How many values were taken.
    taken: usize,
    /// When an SLI name occurs more than once among the values: the list as Keptn shuffles it.
    shuffled: Option<Shuffled>,
}

/// Keptn's value list under swap-removal: the value at each position and the position of
/// each value, plus each group's values.
struct Shuffled {
    at: Vec<u32>,
    pos: Vec<u32>,
    len: usize,
    /// `members[offsets[g]..offsets[g + 1]]`: the values of group `g`.
    offsets: Vec<u32>,
    members: Vec<u32>,
    taken: Vec<bool>,
}

impl Values {
    pub(super) fn new(plan: &Plan<'_>, values: &[SliValue]) -> Self {
        let mut first = vec![NONE; plan.groups];
        let mut group_of = Vec::with_capacity(values.len());
        let mut duplicate = false;
        for (k, v) in values.iter().enumerate() {
            let g = plan.group(k, &v.metric).unwrap_or(NONE);
            group_of.push(g);
            if g != NONE {
                let slot = &mut first[g as usize];
                if *slot == NONE {
                    *slot = index(k);
                } else {
                    duplicate = true;
                }
            }
        }
        let shuffled = duplicate.then(|| Shuffled::new(plan.groups, &group_of));
        Self {
            first,
            group_of,
            taken: 0,
            shuffled,
        }
    }

    /// The index of the value the next objective of `group` would take, leaving it there.
    pub(super) fn peek(&self, group: u32) -> Option<usize> {
        match &self.shuffled {
            None => {
                let k = self.first[group as usize];
                (k != NONE).then_some(k as usize)
            }
            Some(s) => s.peek(group),
        }
    }

    /// The index of the value the next objective of `group` takes, if any is left.
    pub(super) fn take(&mut self, group: u32) -> Option<usize> {
        let k = match &mut self.shuffled {
            None => {
                let slot = &mut self.first[group as usize];
                let k = *slot;
                *slot = NONE;
                (k != NONE).then_some(k as usize)
            }
            Some(s) => s.take(group),
        };
        self.taken += usize::from(k.is_some());
        k
    }

    /// The additional-SLIs message (empty when every value was taken), values in list order.
    /// Values of an SLI that a shadow objective looked at are not additional.
    pub(super) fn additional_message(&self, values: &[SliValue], shadow_groups: &[bool]) -> String {
        if self.taken == values.len() {
            return String::new();
        }
        let mut left = values
            .iter()
            .enumerate()
            .filter(|&(k, _)| {
                let g = self.group_of[k];
                match &self.shuffled {
                    _ if g == NONE => true,
                    _ if shadow_groups[g as usize] => false,
                    None => self.first[g as usize] != NONE,
                    Some(s) => !s.taken[k],
                }
            })
            .peekable();
        if left.peek().is_none() {
            return String::new();
        }
        additional_slis_message(left.map(|(_, v)| v.metric.as_str()))
    }
}

impl Shuffled {
    fn new(groups: usize, group_of: &[u32]) -> Self {
        let n = group_of.len();
        let mut offsets = vec![0u32; groups + 1];
        for &g in group_of.iter().filter(|&&g| g != NONE) {
            offsets[g as usize + 1] += 1;
        }
        for g in 0..groups {
            offsets[g + 1] += offsets[g];
        }
        let mut cursor = offsets.clone();
        let mut members = vec![0u32; offsets[groups] as usize];
        for (k, &g) in group_of.iter().enumerate().filter(|&(_, &g)| g != NONE) {
            let c = &mut cursor[g as usize];
            members[*c as usize] = index(k);
            *c += 1;
        }
        Self {
            at: (0..index(n)).collect(),
            pos: (0..index(n)).collect(),
            len: n,
            offsets,
            members,
            taken: vec![false; n],
        }
    }

    fn peek(&self, group: u32) -> Option<usize> {
        let g = group as usize;
        let members = &self.members[self.offsets[g] as usize..self.offsets[g + 1] as usize];
        members
            .iter()
            .map(|&k| k as usize)
            .filter(|&k| !self.taken[k])
            .min_by_key(|&k| self.pos[k])
    }

    fn take(&mut self, group: u32) -> Option<usize> {
        let k = self.peek(group)?;
        // Swap-remove: the last value moves into the taken value's place.
        let p = self.pos[k] as usize;
        let last = self.at[self.len - 1];
        self.at[p] = last;
        self.pos[last as usize] = index(p);
        self.len -= 1;
        self.taken[k] = true;
        Some(k)
    }
}
