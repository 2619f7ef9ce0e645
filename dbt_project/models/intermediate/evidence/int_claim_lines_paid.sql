{#- Paid claim lines (docs/metrics.md): latest version with claim_status paid,
    allowed_amount > 0 and service_date on or before T. For analysts: the
    evidence models apply the same rules (macros/evidence_rules.sql) to every
    claim line, so this is a view. -#}
{{ config(materialized='view') }}
with

claims as (
    select * from {{ ref('int_claims_deduplicated') }}
),

parameters as (
    select * from {{ ref('int_parameters') }}
),

paid as (
    select
        claims.claim_id,
        claims.line_number,
        claims.patient_id,
        claims.rendering_npi,
        claims.referral_id,
        claims.specialty_group as line_specialty_group,
        claims.service_date,
        claims.allowed_amount
    from claims
    cross join parameters
    where {{ is_paid_claim_line('claims.claim_status', 'claims.allowed_amount') }}
        and claims.service_date <= parameters.as_of_date
),

final as (
    select * from paid
)

select * from final
