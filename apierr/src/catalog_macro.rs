//! The `catalog!` macro: each code written once, checked at compile time.

/// Declares a catalog: an enum with one variant per code, and a static [`Catalog`]
/// holding the entries and the condition bindings.
///
/// Each entry is written once, as
/// `Variant(code [under Parent]) = status, "message" [, url: "…"] [, category: Variant] [, field: "…"];`
/// with its doc comment as the description. The optional parts come in that order.
/// `code` is an integer or a string literal; `under Parent` declares a sub-code;
/// `category` overrides the one the status implies; `field` is the message for an error
/// about one field, with `{field}` standing for its name. The `bind` block maps framework
/// [`Condition`]s to variants; conditions left out get the default for the catalog's
/// [`CodeStyle`](crate::CodeStyle).
///
/// ```
/// apierr::catalog! {
///     /// The codes of the shop API.
///     pub static SHOP: Catalog("shop");
///     /// A code of the shop API.
///     pub enum ShopCode {
///         /// Error occurred while saving the entity.
///         SavingError(2006) = 400, "entity saving error";
///         /// The SKU is taken.
///         SkuTaken(200601 under SavingError) = 400, "entity saving error: SKU must be unique";
///         /// Entity was not found.
///         NotFound(3001) = 404, "entity not found", url: "https://docs.example.com/errors#3001";
///         /// A parameter did not validate.
///         Invalid(5000) = 400, "validation error", field: "'{field}' is not valid";
///     }
///     bind {
///         NotFound => NotFound,
///         InvalidParameter => Invalid,
///     }
/// }
///
/// use apierr::{ApiError, Code, Condition};
///
/// let err: ApiError = ShopCode::SkuTaken.into();
/// assert_eq!(err.code(), &Code::numeric(200601));
/// assert_eq!(SHOP.condition(Condition::NotFound).code(), &Code::numeric(3001));
/// ```
///
/// A catalog that contradicts itself does not compile, and the message names the entry.
/// A status outside 100–599:
///
/// ```compile_fail
/// apierr::catalog! {
///     /// Bad.
///     pub static BAD: Catalog("bad");
///     /// Bad.
///     pub enum Bad {
///         /// Out of range.
///         Weird(1) = 600, "weird";
///     }
/// }
/// ```
///
/// The same code twice:
///
/// ```compile_fail
/// apierr::catalog! {
///     /// Bad.
///     pub static BAD: Catalog("bad");
///     /// Bad.
///     pub enum Bad {
///         /// First.
///         A(3001) = 404, "a";
///         /// Second.
///         B(3001) = 404, "b";
///     }
/// }
/// ```
///
/// A sub-code whose parent is missing, or that is not of its parent's form:
///
/// ```compile_fail
/// apierr::catalog! {
///     /// Bad.
///     pub static BAD: Catalog("bad");
///     /// Bad.
///     pub enum Bad {
///         /// Orphan.
///         Orphan(200601 under Saving) = 400, "orphan";
///     }
/// }
/// ```
///
/// ```compile_fail
/// apierr::catalog! {
///     /// Bad.
///     pub static BAD: Catalog("bad");
///     /// Bad.
///     pub enum Bad {
///         /// Parent.
///         Saving(2006) = 400, "saving";
///         /// Not a sub-code of 2006.
///         Other(300601 under Saving) = 400, "other";
///     }
/// }
/// ```
///
/// [`Catalog`]: crate::Catalog
/// [`Condition`]: crate::Condition
#[macro_export]
macro_rules! catalog {
    (
        $(#[$cmeta:meta])*
        $cvis:vis static $catalog:ident : Catalog($name:literal);
        $(#[$emeta:meta])*
        $evis:vis enum $enum:ident {
            $(
                $(#[doc = $doc:literal])*
                $variant:ident ($code:literal $(under $parent:ident)?) = $status:literal, $message:literal
                    $(, url: $url:literal)?
                    $(, category: $category:ident)?
                    $(, field: $field:literal)?
                ;
            )*
        }
        $(bind {
            $($condition:ident => $target:ident),* $(,)?
        })?
    ) => {
        $(#[$emeta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        $evis enum $enum {
            $( $(#[doc = $doc])* $variant, )*
        }

        impl $enum {
            /// Every code of the catalog, in declaration order.
            pub const ALL: &'static [$enum] = &[$($enum::$variant),*];

            /// The stable code.
            pub const fn code(self) -> $crate::Code {
                match self {
                    $( $enum::$variant => $crate::CodeLiteral($code).code(), )*
                }
            }

            /// The catalog entry.
            pub fn entry(self) -> &'static $crate::Entry {
                &$catalog.entries()[self as usize]
            }

            /// A new error with this code.
            pub fn error(self) -> $crate::ApiError {
                self.entry().error()
            }
        }

        impl ::core::convert::From<$enum> for $crate::ApiError {
            fn from(code: $enum) -> $crate::ApiError {
                code.error()
            }
        }

        $(#[$cmeta])*
        $cvis static $catalog: $crate::Catalog = {
            static ENTRIES: &[$crate::Entry] = &[$(
                $crate::Entry::from_parts(
                    $crate::CodeLiteral($code).code(),
                    $status,
                    $message,
                    $crate::catalog!(@opt $($field)?),
                    concat!($($doc, "\n"),*).trim_ascii(),
                    $crate::catalog!(@opt $($url)?),
                    $crate::catalog!(@parent $enum $($parent)?),
                    $crate::catalog!(@category $($category)?),
                ),
            )*];

            $(
                const _: () = match $crate::Entry::check_static(ENTRIES, $enum::$variant as usize) {
                    $crate::EntryCheck::Ok => {}
                    $crate::EntryCheck::StatusOutOfRange => panic!(concat!(
                        "catalog ", $name, ": entry ", stringify!($variant), " (", stringify!($code),
                        "): status ", stringify!($status), " is outside 100-599"
                    )),
                    $crate::EntryCheck::DuplicateCode => panic!(concat!(
                        "catalog ", $name, ": entry ", stringify!($variant), " (", stringify!($code),
                        "): code is declared more than once"
                    )),
                    $crate::EntryCheck::NotASubCode => panic!(concat!(
                        "catalog ", $name, ": entry ", stringify!($variant), " (", stringify!($code),
                        "): code is not a sub-code of its parent"
                    )),
                };
            )*

            const BINDINGS: [Option<u16>; $crate::Condition::COUNT] = {
                #[allow(unused_mut)]
                let mut bindings = [None; $crate::Condition::COUNT];
                $($(
                    let i = $crate::Condition::$condition.index();
                    if bindings[i].is_some() {
                        panic!(concat!(
                            "catalog ", $name, ": condition ", stringify!($condition),
                            " is bound more than once"
                        ));
                    }
                    bindings[i] = Some($enum::$target as u16);
                )*)?
                bindings
            };

            $crate::Catalog::from_static($name, ENTRIES, BINDINGS)
        };
    };

    (@opt) => { None };
    (@opt $value:literal) => { Some($value) };
    (@parent $enum:ident) => { None };
    (@parent $enum:ident $parent:ident) => { Some($enum::$parent.code()) };
    (@category) => { None };
    (@category $category:ident) => { Some($crate::Category::$category) };
}
