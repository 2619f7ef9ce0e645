{#- Per specialty group (per created year, and pooled with created_year null):
    the navigated and non-navigated counts and completion rates, the uplift,
    the group's average revenue and the engagement cost per navigated
    referral: the figures a what-if ("navigate X% more of this group's
    referrals") multiplies. Observational, like agg_program_return. -#}
with

uplift as (
    select * from {{ ref('int_program_uplift_by_group') }}
),

final as (
    select
        created_year,
        specialty_group,
        referrals,
        navigated_referrals,
        non_navigated_referrals,
        navigated_completed,
        non_navigated_completed,
        navigated_scheduled,
        navigated_completion_rate,
        non_navigated_completion_rate,
        uplift,
        average_revenue,
        {{ safe_divide('engagement_cost', 'navigated_referrals') }} as engagement_cost_per_navigated
    from uplift
)

select * from final
