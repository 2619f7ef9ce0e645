{#- A rate: null when the denominator is 0 (docs/metrics.md: never 0). -#}
{% macro safe_divide(numerator, denominator) -%}
    case when {{ denominator }} = 0 then null else cast({{ numerator }} as double) / ({{ denominator }}) end
{%- endmacro %}
