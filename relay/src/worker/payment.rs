//! payment.stk_push and payment.query (issue 24): M-Pesa's PIN prompt on the customer's phone,
//! and what became of it when its callback did not come. complete_job records the answer
//! (selling.sql's _payment_result); a failure for good fails the payment and tells the customer.
use super::outbound::Outbound;
use crate::clients::{Class, Failure};
use crate::contract::MpesaCall;
use serde_json::Value;

pub async fn push(out: &Outbound, mpesa: &MpesaCall) -> Result<Value, Failure> {
    if out.dry_run {
        return Err(dry_run());
    }
    out.mpesa.push(mpesa).await
}

pub async fn query(out: &Outbound, mpesa: &MpesaCall) -> Result<Value, Failure> {
    if out.dry_run {
        return Err(dry_run());
    }
    out.mpesa.query(mpesa).await
}

fn dry_run() -> Failure {
    Failure::new(Class::Permanent, "a dry run asks M-Pesa for no payment")
}
