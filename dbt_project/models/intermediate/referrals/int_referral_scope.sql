{#- The referrals whose per-referral rows a daily build computes again
    (int_referral_evidence_summarized, int_referral_outcomes_assigned,
    marts.fct_referrals, marts.fct_referral_outreach and marts.fct_engagements
    keep the other referrals' rows;
    macros/replace_scope.sql): what int_referral_scope_changes found before
    attribution was replaced, and the referrals the new attribution of the
    patients attributed again names. Empty on a full build and on Spark. -#}
with

changes as (
    select * from {{ ref('int_referral_scope_changes') }}
),

attributed as (
    select * from {{ ref('int_care_evidence_attributed') }}
),

attribution_scope as (
    select * from {{ ref('int_care_evidence_attribution_scope') }}
),

final as (
    select referral_id from changes
    union
    select attributed_referral_id as referral_id
    from attributed
    where attributed_referral_id is not null
        and patient_id in (select patient_id from attribution_scope)
)

select * from final
