{#- Where leaked care goes: out-of-network providers and their organizations.
    `leaked_referrals` counts referrals whose outcome is
    completed_out_of_network by the provider of their first out-of-network
    visit; `leaked_revenue` sums the allowed amount of attributed,
    out-of-network paid claim lines by rendering provider. Summed over all
    rows they equal the completed_out_of_network and leaked_revenue of
    agg_referrals_monthly. -#}
with

referrals as (
    select * from {{ ref('fct_referrals') }}
),

evidence as (
    select * from {{ ref('int_care_evidence_attributed') }}
),

leaked_referrals as (
    select
        created_month,
        specialty_group,
        first_visit_npi as provider_npi,
        first_visit_organization_id as organization_id,
        1 as leaked_referral,
        cast(0 as decimal(18, 4)) as allowed_amount
    from referrals
    where is_leaked_out_of_network
),

out_of_network_lines as (
    select
        referrals.created_month,
        referrals.specialty_group,
        evidence.provider_npi,
        evidence.organization_id,
        0 as leaked_referral,
        evidence.allowed_amount
    from evidence
    inner join referrals
        on evidence.attributed_referral_id = referrals.referral_id
    where evidence.evidence_type = 'claim_line'
        and not evidence.is_in_network
),

combined as (
    select * from leaked_referrals
    union all
    select * from out_of_network_lines
),

final as (
    select
        created_month,
        specialty_group,
        provider_npi,
        organization_id,
        cast(sum(leaked_referral) as integer) as leaked_referrals,
        cast(sum(allowed_amount) as decimal(18, 2)) as leaked_revenue
    from combined
    group by
        created_month,
        specialty_group,
        provider_npi,
        organization_id
)

select * from final
