//! Update and condition expressions: `SET`/`REMOVE` clauses with a placeholder name for
//! every attribute (several, like `status` and `ttl`, are reserved words), and the writes
//! that carry them, in a transaction or on their own.

use std::collections::HashMap;

use aws_sdk_dynamodb::operation::update_item::builders::UpdateItemFluentBuilder;
use aws_sdk_dynamodb::types::{AttributeValue, Put, TransactWriteItem, Update};

use super::DynamoStore;
use super::items::{Item, REQUEST_SK, key, num, request_pk};
use crate::store::StoreResult;

/// An update of a request item. Conditions are written with the placeholders of
/// [`Expr::name`] and [`Expr::value`].
#[derive(Default)]
pub(super) struct Expr {
    set: Vec<String>,
    remove: Vec<String>,
    names: HashMap<String, String>,
    values: HashMap<String, AttributeValue>,
}

impl Expr {
    /// The placeholder of an attribute's name.
    pub fn name(&mut self, attr: &str) -> String {
        let k = format!("#{attr}");
        self.names.insert(k.clone(), attr.to_string());
        k
    }

    /// The placeholder of a value.
    pub fn value(&mut self, v: AttributeValue) -> String {
        let k = format!(":v{}", self.values.len());
        self.values.insert(k.clone(), v);
        k
    }

    pub fn set(&mut self, attr: &str, v: AttributeValue) -> &mut Self {
        let (n, v) = (self.name(attr), self.value(v));
        self.set.push(format!("{n} = {v}"));
        self
    }

    /// Sets the attribute to `v`, or removes it.
    pub fn set_opt(&mut self, attr: &str, v: Option<AttributeValue>) -> &mut Self {
        match v {
            Some(v) => self.set(attr, v),
            None => self.remove(attr),
        }
    }

    /// A `SET` clause of its own, written with the placeholders.
    pub fn set_raw(&mut self, clause: String) -> &mut Self {
        self.set.push(clause);
        self
    }

    /// Adds one to a number attribute.
    pub fn increment(&mut self, attr: &str) -> &mut Self {
        let (n, one) = (self.name(attr), self.value(num(1)));
        self.set_raw(format!("{n} = {n} + {one}"))
    }

    pub fn remove(&mut self, attr: &str) -> &mut Self {
        let n = self.name(attr);
        self.remove.push(n);
        self
    }

    pub fn update_expression(&self) -> String {
        let mut e = String::new();
        if !self.set.is_empty() {
            e.push_str("SET ");
            e.push_str(&self.set.join(", "));
        }
        if !self.remove.is_empty() {
            e.push_str(" REMOVE ");
            e.push_str(&self.remove.join(", "));
        }
        e
    }

    /// An `Update` of the request item `id` under `condition`.
    pub fn into_update(self, table: &str, id: &str, condition: String) -> StoreResult<Update> {
        Update::builder()
            .table_name(table)
            .set_key(Some(key(request_pk(id), REQUEST_SK)))
            .update_expression(self.update_expression())
            .condition_expression(condition)
            .set_expression_attribute_names(Some(self.names))
            .set_expression_attribute_values(Some(self.values))
            .build()
            .map_err(super::build_err)
    }
}

/// A put in a transaction, under `condition`.
pub(super) fn put(
    table: &str,
    item: Item,
    condition: Option<&str>,
) -> StoreResult<TransactWriteItem> {
    Ok(TransactWriteItem::builder()
        .put(
            Put::builder()
                .table_name(table)
                .set_item(Some(item))
                .set_condition_expression(condition.map(str::to_string))
                .build()
                .map_err(super::build_err)?,
        )
        .build())
}

/// An update in a transaction.
pub(super) fn update(u: Update) -> TransactWriteItem {
    TransactWriteItem::builder().update(u).build()
}

impl DynamoStore {
    /// One conditional update of a request on its own, out of the same `Update` that a
    /// transaction would carry.
    pub(super) fn update_item(&self, u: Update) -> UpdateItemFluentBuilder {
        self.client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(u.key))
            .update_expression(u.update_expression)
            .set_condition_expression(u.condition_expression)
            .set_expression_attribute_names(u.expression_attribute_names)
            .set_expression_attribute_values(u.expression_attribute_values)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::dynamo::items::s;

    #[test]
    fn update_expressions_name_every_attribute() {
        let mut e = Expr::default();
        e.set("status", s("closed")).remove("gsi2pk");
        assert_eq!(e.update_expression(), "SET #status = :v0 REMOVE #gsi2pk");
        assert_eq!(e.names["#status"], "status");
    }

    #[test]
    fn an_increment_adds_one_to_the_attribute() {
        let mut e = Expr::default();
        e.increment("version");
        assert_eq!(e.update_expression(), "SET #version = #version + :v0");
        assert_eq!(e.values[":v0"], num(1));
    }
}
