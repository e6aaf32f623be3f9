//! The JSON forms of a key's allowlist and credits, one reader and one
//! writer each for the keys file and the admin API.

use serde_json::{Map, Value, json};

use crate::key_policy::{AddressRange, Credits, MAX_ALLOWED_IPS, OwnerLimits, Refill};
use crate::key_store::rfc3339;

/// The allowlist's rule, as error messages state it.
pub(crate) const ALLOWED_IPS_RULE: &str = "must be an array of at most 64 address ranges \
     (\"203.0.113.0/24\", \"2001:db8::/32\" or one address), each starting at its first address";

/// The credits' rule, as error messages state it.
pub(crate) const CREDITS_RULE: &str = "must be {\"remaining\": N, \"refill\": {\"amount\": N, \
     \"every_seconds\": 1 to 31622400}} (refill optional), N a whole number 0 or more";

/// `["203.0.113.0/24", ...]`, at most [`MAX_ALLOWED_IPS`]; a problem names
/// the rule, never an entry.
pub(crate) fn allowed_ips(value: &Value) -> Result<Vec<AddressRange>, &'static str> {
    let Value::Array(items) = value else {
        return Err(ALLOWED_IPS_RULE);
    };
    if items.len() > MAX_ALLOWED_IPS {
        return Err(ALLOWED_IPS_RULE);
    }
    items
        .iter()
        .map(|item| {
            item.as_str()
                .and_then(|text| text.parse().ok())
                .ok_or(ALLOWED_IPS_RULE)
        })
        .collect()
}

/// The allowlist as JSON.
pub(crate) fn allowed_ips_json(ranges: &[AddressRange]) -> Value {
    Value::Array(
        ranges
            .iter()
            .map(|range| Value::String(range.to_string()))
            .collect(),
    )
}

/// `{"remaining": N, "refill": {"amount": A, "every_seconds": S}}`, and,
/// where `stored` (the keys file), `"refilled_at"` too.
pub(crate) fn credits(value: &Value, stored: bool) -> Result<Credits, &'static str> {
    let object = value.as_object().ok_or(CREDITS_RULE)?;
    let allowed: &[&str] = if stored {
        &["remaining", "refill", "refilled_at"]
    } else {
        &["remaining", "refill"]
    };
    if object.keys().any(|name| !allowed.contains(&name.as_str())) {
        return Err(CREDITS_RULE);
    }
    let remaining = object
        .get("remaining")
        .and_then(super::read::whole_number)
        .ok_or(CREDITS_RULE)?;
    let mut credits = Credits::new(remaining);
    match object.get("refill") {
        None | Some(Value::Null) => {}
        Some(refill) => credits = credits.with_refill(self::refill(refill)?),
    }
    match object.get("refilled_at") {
        None | Some(Value::Null) => {}
        Some(Value::String(at)) => {
            credits = credits.with_refilled_at(rfc3339::parse(at).ok_or(CREDITS_RULE)?);
        }
        Some(_) => return Err(CREDITS_RULE),
    }
    Ok(credits)
}

fn refill(value: &Value) -> Result<Refill, &'static str> {
    let object: &Map<String, Value> = value.as_object().ok_or(CREDITS_RULE)?;
    if object.len() != 2 {
        return Err(CREDITS_RULE);
    }
    let amount = object
        .get("amount")
        .and_then(super::read::whole_number)
        .ok_or(CREDITS_RULE)?;
    let every = object
        .get("every_seconds")
        .and_then(super::read::whole_number)
        .and_then(|every| u32::try_from(every).ok())
        .ok_or(CREDITS_RULE)?;
    Refill::new(amount, every).map_err(|_| CREDITS_RULE)
}

/// The credits as JSON, `refilled_at` included when known.
pub(crate) fn credits_json(credits: &Credits) -> Value {
    let mut object = json!({ "remaining": credits.remaining() });
    if let Some(refill) = credits.refill() {
        object["refill"] = json!({
            "amount": refill.amount(),
            "every_seconds": refill.every_seconds(),
        });
    }
    if let Some(at) = credits.refilled_at() {
        object["refilled_at"] = Value::String(rfc3339::format(at));
    }
    object
}

/// The owner limits' rule, as error messages state it.
pub(crate) const OWNER_LIMITS_RULE: &str = "must be {\"rate_limit\": {\"requests\", \"per_seconds\"} \
     or null, \"credits\": {...} or null} (either may be left out)";

/// `{"rate_limit": {...}, "credits": {...}}`, either left out or `null`;
/// `refilled_at` in the credits where `stored`.
pub(crate) fn owner_limits(value: &Value, stored: bool) -> Result<OwnerLimits, &'static str> {
    let object = value.as_object().ok_or(OWNER_LIMITS_RULE)?;
    if object
        .keys()
        .any(|name| name != "rate_limit" && name != "credits")
    {
        return Err(OWNER_LIMITS_RULE);
    }
    let rate_limit = match object.get("rate_limit") {
        None | Some(Value::Null) => None,
        Some(value) => Some(super::read::quota(value).ok_or(OWNER_LIMITS_RULE)?),
    };
    let credits = match object.get("credits") {
        None | Some(Value::Null) => None,
        Some(value) => Some(credits(value, stored)?),
    };
    Ok(OwnerLimits::new()
        .with_rate_limit(rate_limit)
        .with_credits(credits))
}

/// The owner limits as JSON.
pub(crate) fn owner_limits_json(limits: &OwnerLimits) -> Value {
    json!({
        "rate_limit": limits.rate_limit().map(|quota| json!({
            "requests": quota.requests(),
            "per_seconds": quota.per_seconds(),
        })),
        "credits": limits.credits().as_ref().map(credits_json),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn credits_round_trip_and_bad_shapes_are_refused() {
        let value = json!({"remaining": 7, "refill": {"amount": 100, "every_seconds": 60},
                           "refilled_at": "2026-12-06T00:00:00Z"});
        let parsed = credits(&value, true).unwrap();
        assert_eq!(credits_json(&parsed), value);
        assert!(
            credits(&value, false).is_err(),
            "refilled_at is the store's"
        );
        for bad in [
            json!(5),
            json!({}),
            json!({"remaining": -1}),
            json!({"remaining": 1.5}),
            json!({"remaining": "5"}),
            json!({"remaining": 1, "extra": 1}),
            json!({"remaining": 1, "refill": {"amount": 1}}),
            json!({"remaining": 1, "refill": {"amount": 1, "every_seconds": 0}}),
            json!({"remaining": 1, "refill": {"amount": 1, "every_seconds": 40_000_000}}),
        ] {
            assert_eq!(credits(&bad, true), Err(CREDITS_RULE), "{bad}");
        }
    }

    #[test]
    fn allowlists_hold_at_most_64_ranges() {
        let list = json!(["203.0.113.0/24", "2001:db8::/32", "192.0.2.1"]);
        assert_eq!(allowed_ips_json(&allowed_ips(&list).unwrap()), list);
        let long = Value::Array((0..65).map(|i| json!(format!("10.0.0.{i}"))).collect());
        assert!(allowed_ips(&long).is_err());
        for bad in [json!("10.0.0.0/8"), json!([1]), json!(["10.0.0.1/8"])] {
            assert!(allowed_ips(&bad).is_err(), "{bad}");
        }
    }
}
