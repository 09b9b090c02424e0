use super::{FieldError, ValidationErrors};

/// Ascending or descending.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SortOrder {
    /// Smallest first.
    Asc,
    /// Largest first.
    #[default]
    Desc,
}

/// Which page of a list to return: `page` from 1, `limit` from 1 to 100.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PageRequest {
    page: u32,
    limit: u32,
}

impl PageRequest {
    /// The largest page size a client may ask for.
    pub const MAX_LIMIT: u32 = 100;
    /// The page size when none is asked for.
    pub const DEFAULT_LIMIT: u32 = 20;

    /// Checks the bounds.
    ///
    /// # Errors
    /// [`ValidationErrors`] naming `page` and/or `limit`.
    pub fn new(page: u32, limit: u32) -> Result<Self, ValidationErrors> {
        let mut errors = Vec::new();
        if page < 1 {
            errors.push(FieldError::new("page", "OUT_OF_RANGE", "must be at least 1"));
        }
        if !(1..=Self::MAX_LIMIT).contains(&limit) {
            errors.push(FieldError::new("limit", "OUT_OF_RANGE", format!("must be between 1 and {}", Self::MAX_LIMIT)));
        }
        if errors.is_empty() { Ok(Self { page, limit }) } else { Err(ValidationErrors::new(errors)) }
    }

    /// The page number, from 1.
    #[must_use]
    pub const fn page(&self) -> u32 {
        self.page
    }

    /// The page size.
    #[must_use]
    pub const fn limit(&self) -> u32 {
        self.limit
    }

    /// How many items precede this page.
    #[must_use]
    pub const fn offset(&self) -> u64 {
        (self.page as u64 - 1) * self.limit as u64
    }
}

impl Default for PageRequest {
    fn default() -> Self {
        Self { page: 1, limit: Self::DEFAULT_LIMIT }
    }
}

/// One page of a list, with the total across all pages.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Page<T> {
    /// The items on this page.
    pub items: Vec<T>,
    /// How many items match, across all pages.
    pub total: u64,
    /// The page that was asked for.
    pub request: PageRequest,
}

impl<T> Page<T> {
    /// How many pages there are (at least 1, so that an empty list still has a first page).
    #[must_use]
    pub fn pages(&self) -> u64 {
        self.total.div_ceil(u64::from(self.request.limit())).max(1)
    }

    /// Maps the items, keeping the paging.
    pub fn map<U>(self, f: impl FnMut(T) -> U) -> Page<U> {
        Page { items: self.items.into_iter().map(f).collect(), total: self.total, request: self.request }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bounds_are_checked_and_every_bad_field_is_named() {
        assert!(PageRequest::new(1, 1).is_ok());
        assert!(PageRequest::new(3, 100).is_ok());
        let err = PageRequest::new(0, 101).unwrap_err();
        let fields: Vec<_> = err.errors().iter().map(|e| e.field.as_str()).collect();
        assert_eq!(fields, ["page", "limit"]);
    }

    #[test]
    fn offset_and_page_count_follow_from_the_request() {
        let request = PageRequest::new(3, 20).unwrap();
        assert_eq!(request.offset(), 40);
        let page = Page { items: vec![1], total: 57, request };
        assert_eq!(page.pages(), 3);
        let empty: Page<u8> = Page { items: vec![], total: 0, request };
        assert_eq!(empty.pages(), 1);
    }
}
