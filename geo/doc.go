// Package geo restricts access by the country of the client's IP address.
//
// Two parts work together:
//
//   - a [Resolver] maps an address to an ISO 3166-1 alpha-2 country code;
//     [MMDB] implements it over a MaxMind-format database (GeoLite2-Country,
//     GeoIP2-Country, or any database whose records carry country.iso_code
//     or registered_country.iso_code, such as the City editions);
//   - [Rules] hold a key's country allow and deny lists and decide, with
//     [Rules.Check], whether a resolved country may pass.
//
// # Decision
//
// Rules with no country in either list are empty: they allow everything and
// need no lookup. Otherwise:
//
//   - a country on the deny list is refused, even when it is also allowed;
//   - a non-empty allow list refuses every country not on it; an empty one
//     allows every country not denied;
//   - an address for which no country is known (not in the database, a
//     record without a country, an invalid address) is refused, unless
//     [RulesConfig.AllowUnknown] is set. The zero value of RulesConfig
//     therefore denies unknown countries.
//
// A refusal is an error wrapping [ErrGeoForbidden]. A failing lookup (a
// closed or corrupt database) is a different error, so that a caller can
// answer 403 to the first and 500 to the second.
//
// # Databases
//
// The package downloads nothing: the service supplies the database file
// (MaxMind publishes GeoLite2-Country under its own licence) and opens it
// with [OpenMMDB], or hands its bytes to [FromBytes]. To update it, open
// the new file into a new MMDB, swap it in, and close the old one once no
// lookup uses it.
package geo
