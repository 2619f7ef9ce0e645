{#- The directory row of an NPI on a day (docs/metrics.md, Building blocks):
    a providers row with effective_from <= day <= coalesce(effective_to, far
    future); of several, in_network = true wins, then the latest
    effective_from. Join on `directory_row_covers`, then keep the first row in
    `directory_row_precedence` order. -#}
{% macro directory_row_covers(providers, day) -%}
    {{ providers }}.effective_from <= {{ day }}
    and {{ day }} <= coalesce({{ providers }}.effective_to, cast('9999-12-31' as date))
{%- endmacro %}

{% macro directory_row_precedence() -%}
    is_in_network desc, effective_from desc
{%- endmacro %}
