# A migration of its own: on PostgreSQL a column cannot be made NOT NULL in the
# transaction that just filled it (its foreign key checks are still pending).

import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('cards', '0002_card_verification_keys'),
    ]

    operations = [
        migrations.AlterField(
            model_name='card',
            name='cvk',
            field=models.ForeignKey(editable=False, limit_choices_to={'purpose': 'cvv'}, on_delete=django.db.models.deletion.PROTECT, related_name='+', to='cardsystem.datakey'),
        ),
    ]
