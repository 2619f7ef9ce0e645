{#- What counts as care evidence (docs/metrics.md, Building blocks), in one
    place for the models that apply it. -#}

{#- A booked appointment: its latest version held a slot. -#}
{% macro is_booked_appointment(status) -%}
    {{ status }} in ('booked', 'arrived', 'checked-in', 'fulfilled', 'noshow', 'cancelled')
{%- endmacro %}

{#- An attended appointment: fulfilled, arrived or checked-in, dated on or before T. -#}
{% macro is_attended_appointment(status, start_date, as_of_date) -%}
    ({{ status }} in ('fulfilled', 'arrived', 'checked-in') and {{ start_date }} <= {{ as_of_date }})
{%- endmacro %}

{#- A paid claim line, before the date rule (service_date on or before T). -#}
{% macro is_paid_claim_line(claim_status, allowed_amount) -%}
    ({{ claim_status }} = 'paid' and {{ allowed_amount }} > 0)
{%- endmacro %}
