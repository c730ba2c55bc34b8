"""1:N duplicate-face search over protected templates."""
