//! Paging of every list the API answers: `pageSize` (at most [`MAX_PAGE_SIZE`]) and
//! `nextPageKey` (an offset into the list).

use axum::Json;
use serde::Deserialize;
use serde_json::{Value, json};

use super::MAX_PAGE_SIZE;
use super::error::ApiError;

/// The paging parameters of a list request.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Paging {
    pub(crate) page_size: Option<usize>,
    pub(crate) next_page_key: Option<String>,
}

/// One page of a list.
#[derive(Debug)]
pub(crate) struct Page<T> {
    /// The items on this page.
    pub(crate) items: Vec<T>,
    /// How many items the whole list holds.
    pub(crate) total: usize,
    /// The offset of the next page, when there is one.
    pub(crate) next: Option<usize>,
}

impl Paging {
    /// The page of `items` these parameters select (`default_size` items without `pageSize`).
    ///
    /// # Errors
    /// 400 for a page size outside 1 to [`MAX_PAGE_SIZE`] or a page key that is not an offset.
    pub(crate) fn page<T>(&self, items: Vec<T>, default_size: usize) -> Result<Page<T>, ApiError> {
        let (start, size) = self.window(default_size)?;
        let total = items.len();
        let items: Vec<T> = items.into_iter().skip(start).take(size).collect();
        let next = start + items.len();
        Ok(Page {
            items,
            total,
            next: (next < total).then_some(next),
        })
    }

    /// How many items to skip and how many to take (`default_size` without `pageSize`).
    ///
    /// # Errors
    /// 400 for a page size outside 1 to [`MAX_PAGE_SIZE`] or a page key that is not an offset.
    pub(crate) fn window(&self, default_size: usize) -> Result<(usize, usize), ApiError> {
        let size = self.page_size.unwrap_or(default_size);
        if size == 0 || size > MAX_PAGE_SIZE {
            return Err(ApiError::bad_request(format!(
                "pageSize {size} is out of range: expected 1 to {MAX_PAGE_SIZE}"
            )));
        }
        let start: usize = match self.next_page_key.as_deref() {
            None | Some("" | "0") => 0,
            Some(k) => k.parse().map_err(|_| {
                ApiError::bad_request(format!(
                    "nextPageKey `{}` is not a page key",
                    k.escape_debug()
                ))
            })?,
        };
        Ok((start, size))
    }
}

impl<T> Page<T> {
    /// The same page with `items` in place of its items (names expanded into bodies).
    pub(crate) fn with_items<U>(&self, items: Vec<U>) -> Page<U> {
        Page {
            items,
            total: self.total,
            next: self.next,
        }
    }
}

impl Page<Value> {
    /// The shipyard-controller's list body: `totalCount`, `pageSize`, `nextPageKey` (`"0"` on
    /// the last page, as Keptn answers) and the items under `key`.
    pub(crate) fn into_json(self, key: &str) -> Json<Value> {
        Json(json!({
            "totalCount": self.total,
            "pageSize": self.items.len(),
            "nextPageKey": self.next.map_or_else(|| "0".to_owned(), |n| n.to_string()),
            key: self.items,
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn paging(size: Option<usize>, key: Option<&str>) -> Paging {
        Paging {
            page_size: size,
            next_page_key: key.map(str::to_owned),
        }
    }

    /// Pages walk the list by offset; the last page has no next key; bad parameters are 400.
    #[test]
    fn pages_by_offset() {
        let items: Vec<u32> = (0..5).collect();
        let first = paging(Some(2), None).page(items.clone(), 20).unwrap();
        assert_eq!(
            (first.items, first.total, first.next),
            (vec![0, 1], 5, Some(2))
        );
        let last = paging(Some(2), Some("4")).page(items.clone(), 20).unwrap();
        assert_eq!((last.items, last.next), (vec![4], None));
        let default = paging(None, Some("0")).page(items.clone(), 3).unwrap();
        assert_eq!(default.items, [0, 1, 2]);
        for bad in [
            paging(Some(0), None),
            paging(Some(MAX_PAGE_SIZE + 1), None),
            paging(None, Some("x")),
        ] {
            assert_eq!(
                bad.page(items.clone(), 20).unwrap_err().status.as_u16(),
                400
            );
        }
    }
}
