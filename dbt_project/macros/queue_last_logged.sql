{#- The log's last word on each referral of `logged` (a relation or CTE of
    int_referral_queue_log's referral rows: referral_id, action, built_at): its
    latest logged action, the referrals whose latest row says they left the
    queue (a null action) left out. Read by the log itself (the last build's
    queue) and by agg_referral_queue_changes (the queue before the latest build). -#}
{% macro queue_last_logged(logged) -%}
    select {{ logged }}.referral_id, {{ logged }}.action
    from {{ logged }}
    inner join (
        select referral_id, max(built_at) as built_at
        from {{ logged }}
        group by referral_id
    ) as last_logged_at
        on {{ logged }}.referral_id = last_logged_at.referral_id
        and {{ logged }}.built_at = last_logged_at.built_at
    where {{ logged }}.action is not null
{%- endmacro %}
