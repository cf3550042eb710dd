//! The glue every validated newtype repeats, written once.
//!
//! A newtype checks its value in `parse` and keeps one canonical text form. serde reads it
//! through `TryFrom<String>` (so deserialising runs the same checks) and writes it through
//! `From<Self> for String`, and `Display` shows the text form. `newtype_glue!` generates those
//! four impls plus a `Debug` of the form `Name(…)`; the type, its derives and its `parse` stay
//! hand-written next to the rule they enforce.

/// Generates `Display`, `Debug`, `TryFrom<String>` and `From<Self> for String` for a newtype.
///
/// - `string Name, Error` — a tuple struct over `String`: `Display` writes the string, `Debug`
///   is `Name("…")`, `TryFrom<String>` runs `Name::parse`, and the string comes back unchanged.
///   `debug = bare` prints `Name(…)` without quotes; `try_from = |value| expr` replaces the
///   parse (for a check that can keep the owned string).
/// - `text Name, Error, method` — a value whose canonical text is `self.method()`: `Display`
///   writes it, `Debug` is `Name(text)`, `TryFrom<String>` runs `Name::parse`, and the string is
///   the text.
/// - `decimal Name, Error` — a tuple struct over a `Decimal`: `Display` is the decimal's own
///   (formatter flags included), `Debug` is `Name(decimal)`, `TryFrom<String>` runs
///   `Name::parse`, and the string is the `Display` text.
macro_rules! newtype_glue {
    (string $name:ident, $error:ty) => {
        $crate::newtype::newtype_glue!(@string $name, $error, "{}({:?})", |value| {
            $name::parse(&value)
        });
    };
    (string $name:ident, $error:ty, debug = bare) => {
        $crate::newtype::newtype_glue!(@string $name, $error, "{}({})", |value| {
            $name::parse(&value)
        });
    };
    (string $name:ident, $error:ty, try_from = |$value:ident| $parse:expr) => {
        $crate::newtype::newtype_glue!(@string $name, $error, "{}({:?})", |$value| $parse);
    };
    (@string $name:ident, $error:ty, $debug:literal, |$value:ident| $parse:expr) => {
        impl ::std::fmt::Display for $name {
            fn fmt(&self, f: &mut ::std::fmt::Formatter<'_>) -> ::std::fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl ::std::fmt::Debug for $name {
            fn fmt(&self, f: &mut ::std::fmt::Formatter<'_>) -> ::std::fmt::Result {
                write!(f, $debug, stringify!($name), self.0)
            }
        }

        impl TryFrom<String> for $name {
            type Error = $error;
            fn try_from($value: String) -> Result<Self, $error> {
                $parse
            }
        }

        impl From<$name> for String {
            fn from(value: $name) -> String {
                value.0
            }
        }
    };
    (text $name:ident, $error:ty, $text:ident) => {
        impl ::std::fmt::Display for $name {
            fn fmt(&self, f: &mut ::std::fmt::Formatter<'_>) -> ::std::fmt::Result {
                f.write_str(&self.$text())
            }
        }

        impl ::std::fmt::Debug for $name {
            fn fmt(&self, f: &mut ::std::fmt::Formatter<'_>) -> ::std::fmt::Result {
                write!(f, "{}({})", stringify!($name), self.$text())
            }
        }

        impl TryFrom<String> for $name {
            type Error = $error;
            fn try_from(value: String) -> Result<Self, $error> {
                $name::parse(&value)
            }
        }

        impl From<$name> for String {
            fn from(value: $name) -> String {
                value.$text()
            }
        }
    };
    (decimal $name:ident, $error:ty) => {
        impl ::std::fmt::Display for $name {
            fn fmt(&self, f: &mut ::std::fmt::Formatter<'_>) -> ::std::fmt::Result {
                ::std::fmt::Display::fmt(&self.0, f)
            }
        }

        impl ::std::fmt::Debug for $name {
            fn fmt(&self, f: &mut ::std::fmt::Formatter<'_>) -> ::std::fmt::Result {
                write!(f, "{}({})", stringify!($name), self.0)
            }
        }

        impl TryFrom<String> for $name {
            type Error = $error;
            fn try_from(value: String) -> Result<Self, $error> {
                $name::parse(&value)
            }
        }

        impl From<$name> for String {
            fn from(value: $name) -> String {
                value.to_string()
            }
        }
    };
}

pub(crate) use newtype_glue;

#[cfg(test)]
mod tests;
